import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Providers } from "@/components/trpc";
import { TopBar } from "@/components/TopBar";
import { currentUser } from "@/server/auth/session";
import { sectionsFor } from "@/server/auth/sections";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "EMR Event Store", template: "%s · EMR Event Store" },
  description: "Clinical, audit and operations console over the EMR event store",
  icons: {
    icon: [
      { url: "/favicon.svg", type: "image/svg+xml" },
      { url: "/favicon.ico", sizes: "32x32" },
    ],
  },
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  const items = user ? sectionsFor(user).map(({ href, label, paths }) => ({ href, label, paths: [href, ...(paths ?? [])] })) : [{ href: "/sign-in", label: "Sign in" }];
  return (
    <html lang="en">
      <body>
        {/* The first tab stop: keyboard users skip the top bar and the section's tabs. */}
        <a className="skip-link" href="#main">
          Skip to main content
        </a>
        <Providers user={user ? { id: user.id, email: user.email } : undefined}>
          <TopBar user={user} items={items} />
          {children}
        </Providers>
      </body>
    </html>
  );
}
