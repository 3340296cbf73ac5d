# Shared by start.sh, test.sh and .ci/run: make sure the tools and local services Reelay needs
# are present, installing or starting them where this machine allows, or saying what to run.

log() { printf 'reelay: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

apt_install() {
  log "installing $* from Debian packages"
  as_root apt-get update -qq >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# pnpm: the one on PATH, else pnpm 12.21.0 installed by npm into .tools/pnpm (no root and no
# global install needed, so a machine with only Node.js and npm is enough) and put on PATH.
ensure_pnpm() {
  command -v pnpm >/dev/null && return 0
  local dir="$PWD/.tools/pnpm"
  if [ ! -x "$dir/node_modules/.bin/pnpm" ]; then
    log "pnpm not found; installing pnpm 12.21.0 into .tools/pnpm with npm"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error pnpm@12.21.0 >/dev/null ||
      { log "could not install pnpm: run 'npm install -g pnpm@12.21.0'"; return 1; }
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}

ensure_ffmpeg() {
  if [ -n "${FFMPEG_PATH:-}" ] || command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then return 0; fi
  apt_install ffmpeg || { log "ffmpeg is missing: run 'apt-get install -y ffmpeg' (or set FFMPEG_PATH and FFPROBE_PATH)"; return 1; }
}

# The seed spec's Python example uses requests; pip cannot reach PyPI here, Debian's package can.
ensure_python_requests() {
  python3 -c 'import requests' 2>/dev/null && return 0
  /usr/bin/python3 -c 'import requests' 2>/dev/null && return 0
  apt_install python3-requests || { log "python3-requests is missing: run 'apt-get install -y python3-requests' (the Python example test is skipped until then)"; return 1; }
}

# The /docs browser test drives Debian's chromium (playwright-core brings no browser of its own).
ensure_chromium() {
  [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ] && return 0
  [ -x /usr/bin/chromium ] && return 0
  apt_install chromium || { log "chromium is missing: run 'apt-get install -y chromium' (the /docs browser test is skipped until then)"; return 1; }
}

redis_up() { node -e '
  const s = require("net").connect(Number(process.argv[2]), process.argv[1]);
  s.setTimeout(1000); s.on("connect", () => s.write("PING\r\n"));
  s.on("data", d => process.exit(String(d).startsWith("+PONG") ? 0 : 1));
  s.on("error", () => process.exit(1)); s.on("timeout", () => process.exit(1));' "$1" "$2"; }

ensure_redis() {
  local url="${REDIS_URL:-redis://127.0.0.1:6379}" host port
  host=$(node -e 'const u=new URL(process.argv[1]);console.log(u.hostname)' "$url")
  port=$(node -e 'const u=new URL(process.argv[1]);console.log(u.port||6379)' "$url")
  redis_up "$host" "$port" && return 0
  if [ "$host" != 127.0.0.1 ] && [ "$host" != localhost ]; then log "Redis at $url is not answering"; return 1; fi
  command -v redis-server >/dev/null || apt_install redis-server || { log "Redis is missing: run 'apt-get install -y redis-server'"; return 1; }
  log "starting redis-server on 127.0.0.1:$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no --maxmemory-policy noeviction >/dev/null
  for _ in $(seq 1 50); do redis_up 127.0.0.1 "$port" && return 0; sleep 0.1; done
  log "redis-server did not come up"; return 1
}

ensure_postgres() {
  local url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/reelay}" host port
  host=$(node -e 'const u=new URL(process.argv[1]);console.log(u.hostname)' "$url")
  port=$(node -e 'const u=new URL(process.argv[1]);console.log(u.port||5432)' "$url")
  pg_up() { node -e 'const s=require("net").connect(+process.argv[2],process.argv[1]);s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1))' "$host" "$port"; }
  pg_up && return 0
  if [ "$host" != 127.0.0.1 ] && [ "$host" != localhost ]; then log "Postgres at $host:$port is not answering"; return 1; fi
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql || { log "Postgres is missing: run 'apt-get install -y postgresql'"; return 1; }
  fi
  local version; version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || { log "could not start Postgres: run 'pg_ctlcluster $version main start'"; return 1; }
  for _ in $(seq 1 50); do pg_up && return 0; sleep 0.2; done
  log "Postgres did not come up"; return 1
}

ensure_deps() {
  if [ ! -d node_modules ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
    log "installing dependencies"
    pnpm install --frozen-lockfile
  fi
  # A pulled schema change without a lockfile change still needs a fresh Prisma client.
  if [ prisma/schema.prisma -nt packages/db/src/generated/prisma/client.ts ]; then
    log "schema changed: regenerating the Prisma client"
    pnpm --silent db:generate >/dev/null
  fi
}
