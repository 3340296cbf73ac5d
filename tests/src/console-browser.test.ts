import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { createVideo, OpenAIVideosEmulator, ROOT } from '@reelay/testing';
import { haveChromium, launchChromium } from './browser';
import { ownDatabase, startStack, type Stack } from './harness';

/**
 * The operator's console in a real browser (Debian's chromium, playwright-core): create a key,
 * submit through the API with it, watch the task in the list, play its video, cancel a running
 * task, retry it, and see the retry complete. Screenshots go to a temporary folder, or to
 * CONSOLE_SCREENSHOT_DIR (the three in docs/ illustrate docs/console.md).
 */
// Names the functions passed to page.waitForFunction use; they run in the page, not in Node.
declare const document: any;
declare const location: any;
type HTMLInputElement = any;
type HTMLImageElement = any;

const browserTest = haveChromium ? test : test.skip;
// A test run never rewrites tracked files: docs/ gets new pictures only when asked (CONSOLE_SCREENSHOT_DIR=docs).
const SHOTS = process.env.CONSOLE_SCREENSHOT_DIR ? resolve(ROOT, process.env.CONSOLE_SCREENSHOT_DIR) : mkdtempSync(join(tmpdir(), 'reelay-console-shots-'));
const ADMIN = 'admin-token-for-console-tests';
const KEY = 'sk-upstream-console-0000';
const slow = new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 5000, queuedMs: 100 } });

let stack: Stack;
let dir: string;
let context: BrowserContext | undefined;
let page: Page;
const foreignRequests: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  await slow.start();
  dir = mkdtempSync(join(tmpdir(), 'reelay-console-'));
  const size = { width: { min: 64, max: 640 }, height: { min: 64, max: 640 } };
  writeFileSync(
    join(dir, 'models.json'),
    JSON.stringify({
      defaultModel: 'clip',
      models: [
        {
          id: 'clip',
          targets: [{ provider: 'preview' }],
          duration: { min: 1, max: 4 },
          size,
          fps: { values: [12, 24] },
          maxN: 1,
          defaults: { duration: 3, width: 320, height: 180, fps: 12 },
        },
        {
          id: 'long-take',
          targets: [{ provider: 'openai-compatible', baseUrl: slow.url, credentials: 'UPSTREAM_KEY', upstreamModel: 'sora-2' }],
          duration: { min: 1, max: 8 },
          size,
          fps: { values: [12, 24] },
          maxN: 1,
          defaults: { duration: 4, width: 320, height: 180, fps: 12 },
        },
      ],
    }),
  );
  stack = await startStack({
    DATABASE_URL: await ownDatabase('console_browser'),
    REELAY_MODELS_FILE: join(dir, 'models.json'),
    UPSTREAM_KEY: KEY,
    REELAY_ADMIN_TOKEN: ADMIN,
  });
  if (!haveChromium) return;
  context = await launchChromium(
    join(dir, 'chromium'),
    { viewport: { width: 1280, height: 860 }, httpCredentials: { username: 'operator', password: ADMIN } },
    ['--autoplay-policy=no-user-gesture-required'],
  );
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (e) => void pageErrors.push(e.message));
  // A 410 is a thumbnail of an earlier run's task: the rows stay in the shared test database, its storage folder does not.
  page.on('console', (m) => void (m.type() === 'error' && !m.text().includes('status of 410') && pageErrors.push(m.text())));
  page.on('request', (r) => {
    if (!r.url().startsWith(stack.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreignRequests.push(r.url());
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await stack?.close();
  await slow.close();
  rmSync(dir, { recursive: true, force: true });
});

const phaseOf = (id: string) => page.locator(`tr[data-task="${id}"] [data-phase]`).getAttribute('data-phase');

browserTest(
  'create a key, submit with it, watch progress, play, cancel, retry',
  async () => {
    const name = `studio-${Date.now().toString(36)}`;
    // Create a key: its secret is shown once.
    await page.goto(`${stack.url}/console#/keys`);
    await page
      .locator('form input[name="name"]')
      .waitFor({ timeout: 10_000 })
      .catch(async () => {
        throw new Error(`the console did not render: ${pageErrors.join('; ')} ${(await page.content()).slice(0, 1500)}`);
      });
    await page.fill('form input[name="name"]', name);
    await page.fill('form input[name="max_concurrent"]', '3');
    await page.click('[data-action="create-key"]');
    const secret = (await page.locator('[data-secret] [data-key]').innerText()).trim();
    expect(secret).toMatch(/^rly_/);
    await page.locator('tr', { hasText: name }).waitFor();

    // Submit through the API with that key; the list shows the task live until it completes.
    const { id } = await createVideo(stack, secret, { model: 'clip', prompt: 'a paper boat drifting on a pond at dusk' });
    await page.goto(`${stack.url}/console#/tasks`);
    await page.locator(`tr[data-task="${id}"]`).waitFor();
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const phase = await phaseOf(id);
      if (phase) seen.add(phase);
      if (phase === 'completed' || phase === 'failed') break;
      await page.waitForTimeout(150);
    }
    expect([...seen].at(-1)).toBe('completed');
    expect(seen.size).toBeGreaterThan(1); // it was seen live before it completed
    await page.locator(`tr[data-task="${id}"] img.thumb`).waitFor();
    await page.waitForFunction((sel) => ((document.querySelector(sel) as HTMLImageElement | null)?.naturalWidth ?? 0) > 0, `tr[data-task="${id}"] img.thumb`);
    await page.screenshot({ path: join(SHOTS, 'console-tasks.png') });

    // The task page plays the video.
    await page.click(`tr[data-task="${id}"]`);
    await page.locator('video').waitFor();
    await page.waitForFunction(() => {
      const v = document.querySelector('video');
      return !!v && v.readyState >= 2 && v.currentTime > 0.3 && !v.paused;
    });
    expect(await page.locator('ol.timeline li').evaluateAll((lis) => lis.map((l) => l.getAttribute('data-kind')))).toEqual(
      expect.arrayContaining(['created', 'admitted', 'submitted', 'completed']),
    );
    await page.screenshot({ path: join(SHOTS, 'console-task.png') });

    // A running task: cancel it, then retry it; the retry completes.
    const running = (await createVideo(stack, secret, { model: 'long-take', prompt: 'a long take of a harbour crane' })).id as string;
    await page.goto(`${stack.url}/console#/tasks/${running}`);
    await page.locator('.actions [data-phase="processing"]').waitFor();
    await page.click('[data-action="cancel"]');
    await page.locator('.actions [data-phase="failed"]').waitFor();
    expect(await page.locator('[data-error]').innerText()).toContain('cancelled: Cancelled by an operator');
    await page.locator('ol.timeline li[data-kind="cancelled"]', { hasText: 'by operator' }).waitFor();
    await page.click('[data-action="retry"]');
    await page.waitForFunction((old) => location.hash.startsWith('#/tasks/vid_') && !location.hash.endsWith(old), running);
    const retried = (await page.evaluate(() => location.hash)).split('/')[2]!;
    await page.locator('dd a', { hasText: running }).waitFor();
    await page.locator('.actions [data-phase="completed"]').waitFor({ timeout: 45_000 });
    expect(retried).not.toBe(running);

    // The keys page, with the new key's limit editable.
    await page.goto(`${stack.url}/console#/keys`);
    const row = page.locator('tr', { hasText: name });
    await row.locator('input[name="max_concurrent"]').fill('5');
    // The field shows 5 as soon as it is typed: wait for the console's save itself before reading the key.
    const saved = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/v1/keys/'));
    await row.locator('input[name="max_concurrent"]').press('Tab');
    expect((await saved).status()).toBe(200);
    await page.waitForFunction(
      (n) =>
        [...document.querySelectorAll('tr')].some(
          (r) => r.textContent?.includes(n) && (r.querySelector('input[name="max_concurrent"]') as HTMLInputElement)?.value === '5',
        ),
      name,
    );
    expect((await stack.db.apiKey.findFirstOrThrow({ where: { name } })).maxConcurrent).toBe(5);
    await page.screenshot({ path: join(SHOTS, 'console-keys.png') });

    await page.goto(`${stack.url}/console#/usage`);
    await page.locator('canvas[data-chart="Tasks per day by model"]').waitFor();
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  },
  180_000,
);
