// The seed spec's JavaScript example; only the URL and the key are changed (read from the environment).
const REELAY_URL = process.env.REELAY_URL ?? 'http://127.0.0.1:8080';
const REELAY_API_KEY = process.env.REELAY_API_KEY ?? 'rly_local_development_key';

const response = await fetch(`${REELAY_URL}/v1/videos`, {
  method: 'POST',
  headers: {
    'Authorization': `Bearer ${REELAY_API_KEY}`,
    'Content-Type': 'application/json'
  },
  body: JSON.stringify({
    model: 'sora-1.0',
    prompt: 'A cute orange cat napping in the sunlight with wind gently blowing its fur',
    duration: 10,
    width: 1920,
    height: 1080,
    fps: 30,
    n: 1
  })
});

const result = await response.json();
console.log(result);
