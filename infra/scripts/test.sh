#!/usr/bin/env bash
# The test command: typecheck every package, then jest against the real Redis and Postgres
# (a separate database, reelay_test, created and migrated by the jest global setup).
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

export DATABASE_URL="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/reelay_test}"
export TURBO_TELEMETRY_DISABLED=1
ensure_pnpm
ensure_ffmpeg
ensure_python_requests || true
ensure_chromium || true
ensure_redis
ensure_postgres
ensure_deps
pnpm exec turbo run typecheck --output-logs=errors-only
node infra/scripts/validate-infra.mjs >/dev/null  # manifests: YAML + Kubernetes schema
pnpm exec jest "$@"
