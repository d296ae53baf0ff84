"use client";
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useTRPC } from "@/components/trpc";

/**
 * After a change to a patient's record: refetch the chart and every history page, and `also` the
 * other views the change shows in (the worklist, the patient list…).
 */
export function useChartRefresh(patientId: string) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return (...also: QueryKey[]) =>
    Promise.all(
      [trpc.patient.byId.queryKey({ patientId }), trpc.patient.history.pathKey(), ...also].map((queryKey) =>
        queryClient.invalidateQueries({ queryKey }),
      ),
    );
}
