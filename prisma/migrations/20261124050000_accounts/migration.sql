-- CreateEnum
CREATE TYPE "BillingStatus" AS ENUM ('none', 'reserved', 'settled', 'released');

-- CreateEnum
CREATE TYPE "LedgerKind" AS ENUM ('reserve', 'release', 'charge');

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "budget_micros" BIGINT,
ADD COLUMN     "committed_micros" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "last_admitted_at" TIMESTAMP(3),
ADD COLUMN     "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "admitted_at" TIMESTAMP(3),
ADD COLUMN     "billing_status" "BillingStatus" NOT NULL DEFAULT 'none',
ADD COLUMN     "cost_micros" BIGINT,
ADD COLUMN     "price_micros_per_second" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "reserved_micros" BIGINT NOT NULL DEFAULT 0;

-- AlterTable (20261124030000_provider_targets adds this column too; this applies with or without it)
ALTER TABLE "tasks" ADD COLUMN IF NOT EXISTS "produced_seconds" DOUBLE PRECISION;

-- CreateTable
CREATE TABLE "ledger_entries" (
    "id" TEXT NOT NULL,
    "api_key_id" TEXT NOT NULL,
    "task_id" TEXT NOT NULL,
    "kind" "LedgerKind" NOT NULL,
    "amount_micros" BIGINT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ledger_entries_api_key_id_created_at_idx" ON "ledger_entries"("api_key_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_entries_task_id_kind_key" ON "ledger_entries"("task_id", "kind");

-- CreateIndex
CREATE INDEX "tasks_status_api_key_id_created_at_idx" ON "tasks"("status", "api_key_id", "created_at");

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
