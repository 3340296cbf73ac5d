-- Admission takes a key's waiting tasks interactive first, then oldest first
-- (ORDER BY (batch_id IS NOT NULL), created_at, id). With the index in that order it reads the
-- first rows of the key instead of sorting all of them: with a 50,000-line batch waiting, each
-- admission run spent ~70 ms on a scan and sort, and interactive creates queued behind those runs.
DROP INDEX "tasks_waiting_idx";
CREATE INDEX "tasks_waiting_idx" ON "tasks"("queue_prefix", "api_key_id", ("batch_id" IS NOT NULL), "created_at", "id")
  WHERE "status" = 'pending' AND "admitted_at" IS NULL;
