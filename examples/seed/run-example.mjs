// Runs example.mjs, polls the task with fetch until it ends, then downloads the video from its
// signed `url` (no bearer header needed). Writes REELAY_OUTPUT (default video.mp4).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const base = process.env.REELAY_URL ?? 'http://127.0.0.1:8080';
const key = process.env.REELAY_API_KEY ?? 'rly_local_development_key';
const out = process.env.REELAY_OUTPUT ?? 'video.mp4';

// example.mjs prints the object with console.log (not JSON), so take the id from the text.
const created = execFileSync(process.execPath, [fileURLToPath(new URL('./example.mjs', import.meta.url))], { encoding: 'utf8' });
console.log(created);
const id = /vid_[A-Za-z0-9]+/.exec(created)?.[0];
if (!id) throw new Error('no video id in the response');

let video;
for (let i = 0; i < 600; i++) {
  video = await (await fetch(`${base}/v1/videos/${id}`, { headers: { Authorization: `Bearer ${key}` } })).json();
  if (video.status === 'completed' || video.status === 'failed') break;
  await new Promise((r) => setTimeout(r, 1000));
}
if (video.status !== 'completed') throw new Error(`video ${id} did not complete: ${JSON.stringify(video)}`);

const content = await fetch(video.url);
if (!content.ok) throw new Error(`download answered ${content.status}`);
writeFileSync(out, Buffer.from(await content.arrayBuffer()));
console.log(`downloaded ${id} to ${out}`);
