import type { Metadata } from "next";
import { OrderWorklist } from "@/components/clinical/OrderWorklist";

export const metadata: Metadata = { title: "Order worklist" };

export default function OrderWorklistPage() {
  return (
    <main className="page">
      <OrderWorklist />
    </main>
  );
}
