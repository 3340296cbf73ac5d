# Runs example.py, polls the task with requests until it ends, then downloads the video from its
# signed `url` (no bearer header needed). Writes REELAY_OUTPUT (default video.mp4).
import json
import os
import subprocess
import sys
import time

import requests

here = os.path.dirname(os.path.abspath(__file__))
base = os.environ.get("REELAY_URL", "http://127.0.0.1:8080")
key = os.environ.get("REELAY_API_KEY", "rly_local_development_key")
out = os.environ.get("REELAY_OUTPUT", "video.mp4")

created = subprocess.run([sys.executable, os.path.join(here, "example.py")], check=True, capture_output=True, text=True).stdout
print(created)
video_id = json.loads(created)["id"]

for _ in range(600):
    video = requests.get(f"{base}/v1/videos/{video_id}", headers={"Authorization": f"Bearer {key}"}).json()
    if video["status"] in ("completed", "failed"):
        break
    time.sleep(1)
if video["status"] != "completed":
    sys.exit(f"video {video_id} did not complete: {json.dumps(video)}")

content = requests.get(video["url"])
content.raise_for_status()
with open(out, "wb") as f:
    f.write(content.content)
print(f"downloaded {video_id} to {out}")
