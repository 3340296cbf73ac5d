-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "provider_target" TEXT,
ADD COLUMN     "poll_errors" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "next_poll_at" TIMESTAMP(3),
ADD COLUMN     "produced_seconds" DOUBLE PRECISION,
ADD COLUMN     "upstream_cost_usd" DOUBLE PRECISION;
