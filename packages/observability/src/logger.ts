import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

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

export type LogFormat = 'json' | 'pretty';

/**
 * LOG_FORMAT when set; otherwise pretty for a person at a terminal and JSON for everything else
 * (files, pipes, log collectors).
 */
export function logFormat(setting: LogFormat | undefined, stdout: { isTTY?: boolean } = process.stdout): LogFormat {
  return setting ?? (stdout.isTTY ? 'pretty' : 'json');
}

/**
 * One logger per process: JSON lines, or (format `pretty`) one readable line per entry; both are
 * redacted the same way. Tests pass their own destination to capture the output.
 */
export function createLogger(opts: { level: string; name: string; format?: LogFormat; destination?: DestinationStream }): Logger {
  const options = {
    name: opts.name,
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: opts.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const format = opts.destination ? (opts.format ?? 'json') : logFormat(opts.format);
  if (format === 'pretty') {
    // For a person at a terminal: one line per entry, local time, without what a person does not
    // read there (process fields, request and response headers). Formatted in this process (no
    // worker thread); colours follow the terminal, or FORCE_COLOR.
    return pino(
      options,
      pretty({
        destination: opts.destination ?? 1,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,service,req.headers,res.headers',
        singleLine: true,
      }),
    );
  }
  return pino(options, opts.destination ?? pino.destination({ sync: false }));
}
