import { enqueueTask } from '@reelay/queue';
import { http, isJpeg, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// The worker announces a task as completed before it stores the thumbnail and spritesheet, so
// nobody waits for ffmpeg; these are the two ways that must not cost a client its images.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

async function completedTask(prompt: string): Promise<string> {
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { prompt, duration: 1, width: 128, height: 128, fps: 24 } });
  expect(res.status).toBe(200);
  const { video } = await waitForVideo(stack, stack.key, res.body.id, 120_000);
  expect(video.status).toBe('completed');
  await until('its images', async () => ((await stack.db.taskOutput.count({ where: { taskId: video.id } })) === 3 ? true : null), 30_000, 50);
  return video.id;
}

test('a thumbnail asked for the moment its task completed is served once the worker stores it, not refused', async () => {
  const id = await completedTask('images follow the completion');
  // As just after the announcement: completed, the video stored, the images not yet.
  const thumbnail = await stack.db.taskOutput.findFirstOrThrow({ where: { taskId: id, variant: 'thumbnail' } });
  await stack.db.taskOutput.delete({ where: { id: thumbnail.id } });
  await stack.db.task.update({ where: { id }, data: { completedAt: new Date() } });

  const started = Date.now();
  const asked = http(stack, 'GET', `/v1/videos/${id}/content?variant=thumbnail`, { key: stack.key });
  setTimeout(() => void stack.db.taskOutput.create({ data: thumbnail }).catch((err) => console.error(err)), 500);
  const res = await asked;
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/jpeg');
  expect(isJpeg(res.bytes)).toBe(true);
  expect(Date.now() - started).toBeGreaterThanOrEqual(450);

  // Long after the completion a missing image is not coming: a 404 at once, saying which.
  await stack.db.taskOutput.deleteMany({ where: { taskId: id, variant: 'spritesheet' } });
  await stack.db.task.update({ where: { id }, data: { completedAt: new Date(Date.now() - 10 * 60_000) } });
  const quick = Date.now();
  const missing = await http(stack, 'GET', `/v1/videos/${id}/content?variant=spritesheet`, { key: stack.key });
  expect(missing.status).toBe(404);
  expect(missing.body.error.message).toMatch(/no spritesheet/);
  expect(Date.now() - quick).toBeLessThan(2_000);
  expect((await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key })).status).toBe(200);
});

test("a worker that died between announcing a task and storing its images: the task's job, run again, makes them from the stored video", async () => {
  const id = await completedTask('images made again');
  await stack.db.taskOutput.deleteMany({ where: { taskId: id, variant: { in: ['thumbnail', 'spritesheet'] } } });
  const queue = stack.api.deps.tasksQueue;
  await (await queue.getJob(id))?.remove();
  await enqueueTask(queue, { taskId: id });
  await until('the images again', async () => ((await stack.db.taskOutput.count({ where: { taskId: id } })) === 3 ? true : null), 30_000, 50);
  for (const variant of ['thumbnail', 'spritesheet']) {
    const res = await http(stack, 'GET', `/v1/videos/${id}/content?variant=${variant}`, { key: stack.key });
    expect(res.status).toBe(200);
    expect(isJpeg(res.bytes)).toBe(true);
  }
});
