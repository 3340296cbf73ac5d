import { errorForStatus, parseRetryAfter, PermanentProviderError, RateLimitedError, TransientProviderError } from './errors';

test('Retry-After as seconds or as an HTTP date', () => {
  expect(parseRetryAfter('7')).toBe(7000);
  expect(parseRetryAfter('1.5')).toBe(1500);
  const now = Date.parse('2026-01-01T00:00:00Z');
  expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
  expect(parseRetryAfter('soon')).toBeUndefined();
  expect(parseRetryAfter(undefined)).toBeUndefined();
});

test('HTTP statuses map to what the worker must do', () => {
  expect(errorForStatus(429, 'slow down', { retryAfter: '3' })).toEqual(expect.objectContaining({ retryAfterMs: 3000 }));
  expect(errorForStatus(429, 'x')).toBeInstanceOf(RateLimitedError);
  expect(errorForStatus(503, 'x')).toBeInstanceOf(TransientProviderError);
  expect(errorForStatus(401, 'bad key')).toMatchObject({ reason: 'auth', code: 'upstream_error' });
  expect(errorForStatus(400, 'bad size')).toMatchObject({ reason: 'invalid_request', code: 'invalid_request' });
  const policy = errorForStatus(400, 'blocked', { contentPolicy: true });
  expect(policy).toBeInstanceOf(PermanentProviderError);
  expect(policy).toMatchObject({ code: 'content_policy_violation', message: 'blocked' });
});

describe('raw upstream answers stay out of client-facing messages', () => {
  const answer = (status: number, text: string) => ({ status, headers: {}, body: { text: async () => text } }) as unknown as import('./http').UpstreamResponse;
  const html = '<html><body>nginx: upstream 10.0.3.7:8443 reset</body></html>';

  test('a non-JSON error answer gives "HTTP <status>"; its text is only in detail', async () => {
    const { readJson, readStream } = await import('./http');
    const failure = await readJson(answer(400, html), (_b, status) => ({ message: `upstream: HTTP ${status}` })).catch((e: unknown) => e);
    expect(failure).toMatchObject({ message: 'upstream: HTTP 400', detail: html, code: 'invalid_request' });
    const download = await readStream(answer(403, html), 'GET /out.mp4').catch((e: unknown) => e);
    expect(download).toMatchObject({ message: 'GET /out.mp4: HTTP 403', detail: html });
  });
});
