-- Indexes shaped for the worker's steady state: 10,000s of tasks live, each polled every few seconds.

-- Tasks waiting for their admission turn, in the order admission takes them. Partial, so a run
-- scans only waiting tasks (not every pending index entry, most of them dead after admission).
CREATE INDEX "tasks_waiting_idx" ON "tasks"("queue_prefix", "api_key_id", "created_at", "id")
  WHERE "status" = 'pending' AND "admitted_at" IS NULL;

-- Live tasks per key: admission counts them against the key's max_concurrent.
CREATE INDEX "tasks_live_idx" ON "tasks"("api_key_id")
  WHERE "status" IN ('pending', 'processing');

-- Recording a poll changes no indexed column, so Postgres can update the row in place (HOT)
-- when its page has room: drop the one index on updated_at (the reconciler reads live tasks
-- through tasks_live_idx) and leave 10% of each page free.
DROP INDEX "tasks_status_updated_at_idx";
ALTER TABLE "tasks" SET (fillfactor = 90);
