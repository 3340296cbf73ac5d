-- Waiting tasks get two partial indexes: interactive ones per key, batch ones per batch. Admission
-- reads a batch's tasks only once the batch is in_progress, so it never walks the index entries of
-- a batch whose 50,000 rows are still being inserted (uncommitted entries cost a heap visit each:
-- ~100 ms an admission run at the end of such an insert), and an index holds each row once, as before.
DROP INDEX "tasks_waiting_idx";
CREATE INDEX "tasks_waiting_idx" ON "tasks"("queue_prefix", "api_key_id", "created_at", "id")
  WHERE "status" = 'pending' AND "admitted_at" IS NULL AND "batch_id" IS NULL;
CREATE INDEX "tasks_batch_waiting_idx" ON "tasks"("batch_id", "created_at", "id")
  WHERE "status" = 'pending' AND "admitted_at" IS NULL AND "batch_id" IS NOT NULL;
-- The batches admission takes tasks from.
CREATE INDEX "batches_in_progress_idx" ON "batches"("queue_prefix") WHERE "status" = 'in_progress';
