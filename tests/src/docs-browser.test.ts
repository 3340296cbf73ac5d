import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { LOCAL_DEVELOPMENT_KEY } from '@reelay/config';
import { http } from '@reelay/testing';
import { CHROMIUM, haveChromium, launchChromium } from './browser';
import { startStack, type Stack } from './harness';

/**
 * /docs in a real browser: Debian's chromium driven by playwright-core (no browser download).
 * Authorize with an API key, then "Try it out" and "Execute" on GET /v1/models and on
 * POST /v1/videos with its first example: both must show 200 on the first try. Screenshots of
 * the page are left in DOCS_SCREENSHOT_DIR (default: a new temp folder, printed).
 */
if (!haveChromium) {
  console.warn(`Skipping the /docs browser test: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH).`);
}
const browserTest = haveChromium ? test : test.skip;

let stack: Stack;
let userDataDir: string;
let context: BrowserContext | undefined;
let page: Page;
const foreignRequests: string[] = [];

beforeAll(async () => {
  stack = await startStack({}, { worker: false });
  if (!haveChromium) return;
  userDataDir = mkdtempSync(join(tmpdir(), 'reelay-chromium-'));
  context = await launchChromium(userDataDir, {
    viewport: { width: 1280, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  page.on('request', (r) => {
    if (!r.url().startsWith(stack.url) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
  });
});

afterAll(async () => {
  await context?.close();
  await stack?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** An operation's block; Swagger UI's element id is operations-<tag>-<operationId>. */
const operation = (operationId: string, on: Page = page) => on.locator(`[id^="operations-"][id$="-${operationId}"]`);

/** Opens an operation, presses Try it out then Execute; returns the status code Swagger UI shows. */
async function tryItOut(operationId: string, on: Page = page): Promise<{ status: string; url: string; body: string }> {
  const block = operation(operationId, on);
  await block.locator('.opblock-summary').first().click();
  await block.locator('button.try-out__btn').click();
  await block.locator('button.execute').click();
  const live = block.locator('.live-responses-table .response .response-col_status');
  await live.first().waitFor();
  return {
    status: (await live.first().innerText()).trim(),
    url: (await block.locator('.request-url pre').innerText()).trim(),
    body: await block.locator('.live-responses-table .response-col_description pre').first().innerText(),
  };
}

browserTest('Authorize, then Try it out and Execute answer 200 on GET /v1/models and POST /v1/videos', async () => {
  await page.goto(`${stack.url}/docs`);
  await operation('listModels').waitFor();

  // Authorize with the API key: the bearerAuth form of the dialog.
  await page.locator('button.authorize').first().click();
  const dialog = page.locator('.dialog-ux .modal-ux');
  const bearer = dialog.locator('.auth-container').filter({ hasText: 'bearerAuth' });
  await bearer.locator('input').fill(stack.key);
  await bearer.locator('button.authorize').click();
  await bearer.locator('h6', { hasText: 'Authorized' }).waitFor();
  await bearer.locator('button.btn-done').click();

  const models = await tryItOut('listModels');
  expect(models.status).toBe('200');
  // Sent to the origin that served the page, not to some other server.
  expect(models.url).toBe(`${stack.url}/v1/models`);
  expect(JSON.parse(models.body).data[0].upstream.adapter).toBe('preview');

  const create = await tryItOut('createVideo');
  expect(create.status).toBe('200');
  const video = JSON.parse(create.body);
  expect(video).toMatchObject({ object: 'video', model: 'sora-2', status: 'pending' });
  // The task exists for the key that was authorized.
  expect((await http(stack, 'GET', `/v1/videos/${video.id}`, { key: stack.key })).status).toBe(200);

  // Screenshots to look at: the page's top (Authorize shows a closed lock) and both live answers.
  const dir = process.env.DOCS_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'reelay-docs-shots-'));
  mkdirSync(dir, { recursive: true });
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: join(dir, 'docs-top.png') });
  for (const id of ['listModels', 'createVideo']) {
    await operation(id)
      .locator('.responses-inner')
      .first()
      .screenshot({ path: join(dir, `docs-${id}-answer.png`) });
  }
  console.log(`/docs screenshots in ${dir}`);

  // Everything the page loaded came from Reelay itself.
  expect(foreignRequests).toEqual([]);
});

browserTest('with the public local development key, the page comes authorized: Try it out works without Authorize', async () => {
  const local = await startStack({ REELAY_BOOTSTRAP_KEY: LOCAL_DEVELOPMENT_KEY, NODE_ENV: 'development' }, { worker: false });
  const tab = await context!.newPage();
  try {
    tab.setDefaultTimeout(30_000);
    await tab.goto(`${local.url}/docs`);
    await operation('listModels', tab).waitFor();
    const models = await tryItOut('listModels', tab);
    expect(models.status).toBe('200');
    expect(models.url).toBe(`${local.url}/v1/models`);
  } finally {
    await tab.close();
    await local.close();
  }
});

test('the key is prefilled only for the public local development key, and never outside production-free local use', async () => {
  const page = async (env: Record<string, string>) => {
    const s = await startStack(env, { worker: false });
    try {
      return (await http(s, 'GET', '/docs/init.js')).bytes.toString('utf8');
    } finally {
      await s.close();
    }
  };
  const local = await page({ REELAY_BOOTSTRAP_KEY: LOCAL_DEVELOPMENT_KEY, NODE_ENV: 'development' });
  expect(local).toContain(`preauthorizeApiKey('bearerAuth', "${LOCAL_DEVELOPMENT_KEY}")`);
  const own = 'rly_a_real_deployment_key_0123456789';
  const real = await page({ REELAY_BOOTSTRAP_KEY: own, NODE_ENV: 'development' });
  expect(real).not.toContain(own);
  expect(real).not.toContain('preauthorize');
  const prod = await page({ REELAY_BOOTSTRAP_KEY: LOCAL_DEVELOPMENT_KEY, NODE_ENV: 'production' });
  expect(prod).not.toContain('preauthorize');
});
