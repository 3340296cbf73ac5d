#!/usr/bin/env bash
# The seed spec's cURL example; only the URL and the key are changed (read from the environment).
REELAY_URL="${REELAY_URL:-http://127.0.0.1:8080}"
REELAY_API_KEY="${REELAY_API_KEY:-rly_local_development_key}"

curl -X POST "$REELAY_URL/v1/videos" \
  -H "Authorization: Bearer $REELAY_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "model": "sora-1.0",
    "prompt": "A cute orange cat napping in the sunlight with wind gently blowing its fur",
    "duration": 10,
    "width": 1920,
    "height": 1080,
    "fps": 30,
    "n": 1
  }'
