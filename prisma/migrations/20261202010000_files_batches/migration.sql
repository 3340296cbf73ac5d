-- Files (OpenAI Files API) and batches (OpenAI Batch API, endpoint /v1/videos).

-- CreateTable
CREATE TABLE "files" (
    "id" TEXT NOT NULL,
    "api_key_id" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "checksum" TEXT NOT NULL,
    "storage_key" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMP(3),
    "deleted_at" TIMESTAMP(3),
    "idempotency_key" TEXT,
    "request_hash" TEXT,

    CONSTRAINT "files_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "batches" (
    "id" TEXT NOT NULL,
    "api_key_id" TEXT NOT NULL,
    "endpoint" TEXT NOT NULL,
    "completion_window" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'validating',
    "input_file_id" TEXT NOT NULL,
    "output_file_id" TEXT,
    "error_file_id" TEXT,
    "errors" JSONB,
    "metadata" JSONB,
    "base_url" TEXT NOT NULL,
    "request_total" INTEGER NOT NULL DEFAULT 0,
    "request_completed" INTEGER NOT NULL DEFAULT 0,
    "request_failed" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "in_progress_at" TIMESTAMP(3),
    "expires_at" TIMESTAMP(3) NOT NULL,
    "finalizing_at" TIMESTAMP(3),
    "completed_at" TIMESTAMP(3),
    "failed_at" TIMESTAMP(3),
    "expired_at" TIMESTAMP(3),
    "cancelling_at" TIMESTAMP(3),
    "cancelled_at" TIMESTAMP(3),
    "idempotency_key" TEXT,
    "request_hash" TEXT,
    "request_id" TEXT,
    "queue_prefix" TEXT NOT NULL DEFAULT 'reelay',

    CONSTRAINT "batches_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "files_api_key_id_idempotency_key_key" ON "files"("api_key_id", "idempotency_key");
CREATE INDEX "files_api_key_id_created_at_id_idx" ON "files"("api_key_id", "created_at" DESC, "id" DESC);
CREATE UNIQUE INDEX "batches_api_key_id_idempotency_key_key" ON "batches"("api_key_id", "idempotency_key");
CREATE INDEX "batches_api_key_id_created_at_id_idx" ON "batches"("api_key_id", "created_at" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "files" ADD CONSTRAINT "files_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "batches" ADD CONSTRAINT "batches_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Tasks made from a batch's lines.
ALTER TABLE "tasks" ADD COLUMN "batch_id" TEXT, ADD COLUMN "custom_id" TEXT, ADD COLUMN "batch_line" INTEGER;
CREATE INDEX "tasks_batch_id_batch_line_idx" ON "tasks"("batch_id", "batch_line");

-- Batch events have no task: a delivery names its task or its batch.
ALTER TABLE "webhook_deliveries" ALTER COLUMN "task_id" DROP NOT NULL, ADD COLUMN "batch_id" TEXT;
