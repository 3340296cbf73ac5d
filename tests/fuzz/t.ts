import fc from 'fast-check';
import { writeFileSync, readFileSync } from 'node:fs';
import { planArbitrary } from './requests';
import { sendRaw } from './client';
async function main() {
  const info = JSON.parse(readFileSync('/tmp/stack.out', 'utf8').split('\n')[0]!);
  const url = new URL(info.url);
  const get = async (path: string) => { const r = await sendRaw(url.hostname, Number(url.port), { method: 'GET', path, headers: [['Authorization', `Bearer ${info.owner}`]], body: null }, 5000); return r.kind === 'response' ? JSON.parse(r.res.body.toString()) : null; };
  const doc = await get('/openapi.json');
  const models = (await get('/v1/models')).data;
  const plans = fc.sample(planArbitrary(doc, models), { seed: 2, numRuns: 33 });
  const world: any = { ownerKey: info.owner, otherKey: info.other, adminToken: info.adminToken, spareKeyId: 'key_x', ownerVideos: ['vid_a'], otherVideos: ['vid_b'], completedVideo: 'vid_a', completedEtag: '"x"', deletedVideo: 'vid_c', deletedIdempotencyKey: 'd', queueNames: ['video-tasks'], seq: 30 };
  const idx = Number(process.argv[2] ?? 30);
  const built = plans[idx]!.build(world);
  writeFileSync('/tmp/req.bin', Buffer.concat([Buffer.from(JSON.stringify(built.req.headers) + '\n'), built.req.body ?? Buffer.alloc(0)]));
  console.log(plans[idx]!.route, built.req.method, built.req.path, built.req.headers);
  const r = await sendRaw(url.hostname, Number(url.port), built.req, 5000);
  console.log(r.kind, r.kind === 'response' ? r.res.status + ' ' + r.res.body.toString().slice(0, 300) : (r as any).detail);
}
main();
