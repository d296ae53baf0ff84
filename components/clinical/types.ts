// Output shapes of the clinical procedures, as the browser receives them (superjson: Dates stay Dates).
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";

type Outputs = inferRouterOutputs<AppRouter>;

export type Chart = Outputs["patient"]["byId"];
export type ChartPatient = Chart["patient"];
export type ChartEncounter = Chart["openEncounters"][number];
export type ChartOrder = Chart["orders"][number];
export type PatientListItem = Outputs["patient"]["list"]["items"][number];
export type HistoryItem = Outputs["patient"]["history"]["items"][number];
export type WorklistItem = Outputs["order"]["worklist"]["items"][number];

/** What the status-change form needs to know about an order, from the chart or the worklist. */
export type OrderRef = Pick<ChartOrder, "orderId" | "patientId" | "kind" | "status" | "version" | "nextStatuses"> & {
  description: string;
  /** Why it has its status (a cancellation's reason), where the screen has it. */
  statusReason?: string | null;
};
