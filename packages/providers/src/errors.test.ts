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
