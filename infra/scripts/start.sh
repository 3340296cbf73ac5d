#!/usr/bin/env bash
# One command for a local Reelay: installs what is missing, starts Redis/Postgres if needed,
# applies migrations, then runs the API (with the queue dashboard) and a worker using the
# built-in preview renderer. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

ensure_pnpm
ensure_ffmpeg
ensure_redis
ensure_postgres
ensure_deps
pnpm --silent db:migrate

# A fixed local key so the README's examples work as written; set your own in any shared setup.
export REELAY_BOOTSTRAP_KEY="${REELAY_BOOTSTRAP_KEY:-rly_local_development_key}"
export PORT="${PORT:-8080}"
export REELAY_ADMIN_TOKEN="${REELAY_ADMIN_TOKEN:-rly_local_admin_token}"
log "API key for local use: $REELAY_BOOTSTRAP_KEY"
log "API on http://127.0.0.1:$PORT"
log "Queue dashboard: http://127.0.0.1:$PORT/admin/queues (any user, password $REELAY_ADMIN_TOKEN)"
log "Worker metrics: http://127.0.0.1:${WORKER_METRICS_PORT:-9464}/metrics"
# The API and worker write to concurrently's pipes, never a terminal: decide here whether a person
# reads the logs (readable lines) or a program does (JSON). LOG_FORMAT=json|pretty overrides.
if [ -t 1 ]; then export LOG_FORMAT="${LOG_FORMAT:-pretty}"; fi
exec pnpm exec concurrently --kill-others --names api,worker --prefix-colors blue,green \
  "tsx apps/api/src/main.ts" "node --max-old-space-size=192 --import tsx apps/worker/src/main.ts"
