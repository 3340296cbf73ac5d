# The seed spec's Python example; only the URL and the key are changed (read from the environment).
import os
import requests
import json

url = os.environ.get("REELAY_URL", "http://127.0.0.1:8080") + "/v1/videos"
headers = {
    "Authorization": "Bearer " + os.environ.get("REELAY_API_KEY", "rly_local_development_key"),
    "Content-Type": "application/json"
}

data = {
    "model": "sora-1.0",
    "prompt": "A cute orange cat napping in the sunlight with wind gently blowing its fur",
    "duration": 10,
    "width": 1920,
    "height": 1080,
    "fps": 30,
    "n": 1
}

response = requests.post(url, headers=headers, json=data)
result = response.json()
print(json.dumps(result, indent=2))
