import { Writable } from 'node:stream';
import { createLogger, logFormat, type LogFormat } from './logger';

function capture(format?: LogFormat) {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'info', format, destination }), text: () => text };
}

test('credentials are redacted wherever the usual field names put them', () => {
  const { logger, text } = capture();
  logger.info({ req: { headers: { authorization: 'Bearer rly_SECRET1', cookie: 'sid=SECRET2' } } }, 'request');
  logger.info({ upstream: { headers: { authorization: 'Token SECRET3' }, apiKey: 'SECRET4' } }, 'provider call');
  logger.info({ key: { webhookSecret: 'whsec_SECRET5', webhook_secret: 'SECRET6' }, secret: 'SECRET7', token: 'SECRET8' }, 'key');
  logger.info({ provider: { credentials: { user: 'u', password: 'SECRET9' }, api_key: 'SECRET10' } }, 'provider');
  const out = text();
  expect(out.split('\n').filter(Boolean)).toHaveLength(4);
  expect(out).not.toMatch(/SECRET\d/);
  expect(out).toContain('[redacted]');
});

test('pretty logs: one readable line per entry, without headers, redacted the same way', async () => {
  const { logger, text } = capture('pretty');
  logger.info(
    { taskId: 'vid_1', req: { method: 'GET', url: '/v1/videos', headers: { authorization: 'Bearer rly_SECRET1', accept: '*/*' } } },
    'request completed',
  );
  logger.warn({ token: 'SECRET2' }, 'upstream slow');
  await new Promise((r) => setImmediate(r));
  const lines = text().split('\n').filter(Boolean);
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(test\): request completed \{"taskId":"vid_1","req":\{"method":"GET","url":"\/v1\/videos"\}\}$/);
  expect(lines[1]).toMatch(/WARN \(test\): upstream slow \{"token":"\[redacted\]"\}$/);
  expect(text()).not.toMatch(/SECRET|accept/);
});

test('JSON unless a terminal reads the output; LOG_FORMAT decides when set', () => {
  expect(logFormat(undefined, { isTTY: true })).toBe('pretty');
  expect(logFormat(undefined, { isTTY: false })).toBe('json');
  expect(logFormat(undefined, {})).toBe('json');
  expect(logFormat('json', { isTTY: true })).toBe('json');
  expect(logFormat('pretty', {})).toBe('pretty');
  const { logger, text } = capture();
  logger.info('plain');
  expect(JSON.parse(text())).toMatchObject({ level: 30, msg: 'plain', service: 'test' });
});
