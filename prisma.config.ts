// Prisma CLI configuration. Runtime connections go through driver adapters (server/db/client.ts);
// migrations are applied by the project's migrator (npm run db:migrate), which keeps
// _prisma_migrations the way `prisma migrate deploy/status` expect.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/emr" },
});
