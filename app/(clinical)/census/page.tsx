import type { Metadata } from "next";
import { Census } from "@/components/clinical/Census";

export const metadata: Metadata = { title: "Census" };

export default function CensusPage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <Census />
    </main>
  );
}
