import { Writable } from 'node:stream';
import { createLogger } from './logger';

function capture() {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'info', destination }), text: () => text };
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
