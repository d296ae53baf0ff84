import type { Metadata } from "next";
import Link from "next/link";

export const metadata: Metadata = { title: "Page not found" };

// Any unknown address, and any page that calls notFound(). The address itself is not repeated:
// a mistyped link may carry an identifier.
export default function NotFound() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <section className="panel not-found" aria-labelledby="not-found-title">
        <p className="not-found-code" aria-hidden="true">
          404
        </p>
        <h1 id="not-found-title">Page not found</h1>
        <p className="subtitle">
          Nothing lives at this address. The link may be mistyped or out of date, or the record it pointed to may not exist.
        </p>
        <div className="actions">
          <Link className="button" href="/">
            Back to the console
          </Link>
        </div>
      </section>
    </main>
  );
}
