import type { Metadata } from "next";
import { OrderWorklist } from "@/components/clinical/OrderWorklist";

export const metadata: Metadata = { title: "Order worklist" };

export default function OrderWorklistPage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <OrderWorklist />
    </main>
  );
}
