import type { Metadata } from "next";
import { OrderTurnaround } from "@/components/clinical/OrderTurnaround";

export const metadata: Metadata = { title: "Order turnaround" };

export default function OrderTurnaroundPage() {
  return (
    <main className="page">
      <OrderTurnaround />
    </main>
  );
}
