import type { Metadata } from "next";
import { OrderTurnaround } from "@/components/clinical/OrderTurnaround";

export const metadata: Metadata = { title: "Order turnaround" };

export default function OrderTurnaroundPage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <OrderTurnaround />
    </main>
  );
}
