import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** pino's standard shapes for a request and a response in a log line (access lines). */
export const serializeRequest = pino.stdSerializers.req;
export const serializeResponse = pino.stdSerializers.res;

/**
 * Paths pino blanks out wherever they appear in a log line: credentials in request headers, API
 * keys, webhook secrets and provider credentials. Keep secrets out of log calls in the first
 * place; this list is the safety net.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-admin-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'authorization',
  'apiKey',
  'secret',
  'token',
  'password',
  'webhookSecret',
  'webhook_secret',
  'credentials',
  '*.apiKey',
  '*.secret',
  '*.token',
  '*.password',
  '*.webhookSecret',
  '*.webhook_secret',
  '*.credentials',
  '*.authorization',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  'api_key',
  '*.api_key',
  'apiToken',
  '*.apiToken',
];

/** One JSON logger per process; tests pass their own destination to capture the output. */
export function createLogger(opts: { level: string; name: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ sync: false }),
  );
}
