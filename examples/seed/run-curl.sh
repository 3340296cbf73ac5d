#!/usr/bin/env bash
# Runs curl.sh, polls the task with curl until it ends, then downloads the video from its signed
# `url` (no bearer header needed). Writes REELAY_OUTPUT (default video.mp4).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
REELAY_URL="${REELAY_URL:-http://127.0.0.1:8080}"
REELAY_API_KEY="${REELAY_API_KEY:-rly_local_development_key}"
out="${REELAY_OUTPUT:-video.mp4}"

created="$(REELAY_URL="$REELAY_URL" REELAY_API_KEY="$REELAY_API_KEY" bash "$here/curl.sh" 2>/dev/null)"
echo "$created"
id="$(printf '%s' "$created" | grep -o '"id":"vid_[A-Za-z0-9]*"' | head -1 | cut -d'"' -f4)"
[ -n "$id" ] || { echo "no video id in the response" >&2; exit 1; }

for _ in $(seq 1 600); do
  video="$(curl -sS -H "Authorization: Bearer $REELAY_API_KEY" "$REELAY_URL/v1/videos/$id")"
  case "$video" in
    *'"status":"completed"'*) break ;;
    *'"status":"failed"'*) echo "video $id failed: $video" >&2; exit 1 ;;
  esac
  sleep 1
done
url="$(printf '%s' "$video" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')"
[ -n "$url" ] || { echo "video $id did not complete: $video" >&2; exit 1; }
curl -fsS -o "$out" "$url"
echo "downloaded $id to $out"
