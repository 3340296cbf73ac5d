-- CreateIndex
CREATE INDEX "tasks_provider_target_upstream_id_idx" ON "tasks"("provider_target", "upstream_id");
