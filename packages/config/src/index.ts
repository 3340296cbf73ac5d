import { isIP } from 'node:net';
import { z } from 'zod';

/** `IP`, `IPv4:port` or `[IPv6]:port`. */
function isAddressEntry(e: string): boolean {
  const m = /^\[(.+)\](?::(\d{1,5}))?$/.exec(e) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(e);
  return m ? isIP(m[1]!) !== 0 : isIP(e) === 6;
}

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const ms = (def: number) => z.coerce.number().int().nonnegative().default(def);

/** "preview=4,replicate=10" → { preview: 4, replicate: 10 }. */
const perProviderLimits = z
  .string()
  .regex(/^\s*[\w.-]+\s*=\s*\d+\s*(,\s*[\w.-]+\s*=\s*\d+\s*)*$/, 'must look like "preview=4,replicate=10"')
  .transform(
    (v) =>
      Object.fromEntries(
        v
          .split(',')
          .map((p) => p.split('=').map((x) => x.trim()))
          .map(([k, n]) => [k!, Number(n)]),
      ) as Record<string, number>,
  );

/**
 * The API key `pnpm start` creates when REELAY_BOOTSTRAP_KEY is unset (infra/scripts/start.sh sets
 * the same value). It is public, so a server using it may show it, e.g. prefilled in /docs.
 */
export const LOCAL_DEVELOPMENT_KEY = 'rly_local_development_key';

/** Every setting Reelay reads from the environment, with defaults that suit a local run. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/reelay'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REELAY_QUEUE_PREFIX: z.string().min(1).default('reelay'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  REELAY_PUBLIC_URL: z.string().url().optional(),
  /** Where objects live: `local` (REELAY_STORAGE_DIR) or `s3` (a bucket; REELAY_STORAGE_DIR then holds only scratch files). */
  REELAY_STORAGE: z.enum(['local', 's3']).default('local'),
  REELAY_STORAGE_DIR: z.string().default('./data/storage'),
  REELAY_S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)')
    .optional(),
  REELAY_S3_ENDPOINT: z
    .string()
    .regex(/^https?:\/\/[^\s/]+/, 'must be an http:// or https:// URL')
    .pipe(z.string().url())
    .optional(),
  REELAY_S3_REGION: z.string().min(1).default('us-east-1'),
  REELAY_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  REELAY_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  REELAY_S3_FORCE_PATH_STYLE: bool.default(false),
  REELAY_S3_PREFIX: z
    .string()
    .regex(/^[\w!.*'()/-]+$/, "must be an object key prefix (letters, digits, / and !-_.*'())")
    .optional(),
  /** How content is delivered: `stream` through the API, or `redirect` (302) to a short-lived presigned URL (s3 only). */
  REELAY_CONTENT_DELIVERY: z.enum(['stream', 'redirect']).default('stream'),
  REELAY_MODELS_FILE: z.string().optional(),
  REELAY_STATUS_DIALECT: z.enum(['seed', 'openai']).default('seed'),
  REELAY_BOOTSTRAP_KEY: z.string().min(20, 'must be at least 20 characters').optional(),
  REELAY_ADMIN_TOKEN: z.string().min(20, 'must be at least 20 characters').optional(),
  REELAY_PROVIDER_CONCURRENCY: perProviderLimits.optional(),
  WORKER_ADMISSION_INTERVAL_MS: ms(1_000),
  WORKER_ADMISSION_QUEUE_DEPTH: z.coerce.number().int().positive().default(200),
  WORKER_ADMISSION_BATCH_DEPTH: z.coerce.number().int().positive().default(4),
  REELAY_SIGNING_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  REELAY_RESULT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(24 * 3600),
  REELAY_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(25 * 1024 * 1024),
  REELAY_MAX_IMAGE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(20 * 1024 * 1024),
  /** Width × height an input image may have (its header is read before anything else). */
  REELAY_MAX_IMAGE_PIXELS: z.coerce.number().int().positive().default(40_000_000),
  /** How long ffmpeg may take to decode an input image at create before it counts as undecodable. */
  REELAY_IMAGE_CHECK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Largest upload POST /v1/files takes (OpenAI's limit for batch input files is 200 MB). */
  REELAY_MAX_FILE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(200 * 1024 * 1024),
  /** Lines a batch input file may have (OpenAI's limit). */
  REELAY_BATCH_MAX_LINES: z.coerce.number().int().positive().default(50_000),
  /** The completion window a batch gets, in seconds; `24h` is the only window clients ask for, shortened here for tests. */
  REELAY_BATCH_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(24 * 3600),
  /** How often a running batch's job looks at its tasks (counts, end, expiry). */
  WORKER_BATCH_CHECK_MS: z.coerce.number().int().min(50).default(2_000),
  REELAY_MAX_PROMPT_CHARS: z.coerce.number().int().positive().default(4000),
  /** Cap on an upstream provider's callback body (POST /v1/upstream-webhooks/…); larger ones get 413. */
  REELAY_UPSTREAM_WEBHOOK_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  REELAY_MAX_B64_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(20 * 1024 * 1024),
  /** Cap on an uploaded source video (edits, extensions, characters); must fit in REELAY_MAX_BODY_BYTES. */
  REELAY_MAX_VIDEO_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(20 * 1024 * 1024),
  /** Longest uploaded source video accepted, in seconds. */
  REELAY_MAX_VIDEO_UPLOAD_SECONDS: z.coerce.number().positive().default(60),
  /**
   * Origins a browser may call /v1/* from: `*` (any: the API uses bearer keys, never cookies) or a
   * comma-separated list of origins (`https://app.example.com,http://localhost:3000`).
   */
  REELAY_CORS_ORIGINS: z
    .string()
    .default('*')
    .refine(
      (v) => v.trim() === '*' || v.split(',').every((o) => /^https?:\/\/[^/\s]+$/i.test(o.trim())),
      'must be * or comma-separated origins like https://app.example.com (scheme and host, no path)',
    ),
  FFMPEG_PATH: z.string().default('ffmpeg'),
  FFPROBE_PATH: z.string().default('ffprobe'),
  WORKER_CONCURRENCY: z.coerce.number().int().positive().default(50),
  WORKER_RENDER_SLOTS: z.coerce.number().int().positive().default(2),
  /** Postgres connections per worker process; polls of many tasks run side by side. */
  WORKER_DB_POOL_SIZE: z.coerce.number().int().positive().default(20),
  /** A dead worker's job is taken back within WORKER_LOCK_MS + WORKER_STALLED_INTERVAL_MS (docs/reliability.md, Recovery). */
  WORKER_LOCK_MS: z.coerce.number().int().min(1_000).default(10_000),
  WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(100).default(3_000),
  WORKER_RECONCILE_INTERVAL_MS: ms(60_000),
  /** The first poll after an upstream accepted a task: early, so a fast model is not held back by the interval. */
  POLL_FIRST_MS: ms(250),
  POLL_MIN_MS: ms(1_000),
  POLL_MAX_MS: ms(20_000),
  /** Per-request timeout for upstream provider HTTP calls (submit, poll, cancel; not downloads). */
  PROVIDER_REQUEST_TIMEOUT_MS: ms(30_000),
  /** Rounds over all of a model's targets before a task that no target accepted fails. */
  PROVIDER_SUBMIT_ROUNDS: z.coerce.number().int().positive().default(5),
  /** Consecutive failed polls (5xx, network, timeout) before the task fails with upstream_error. */
  PROVIDER_POLL_ERROR_LIMIT: z.coerce.number().int().positive().default(20),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` or `pretty`; unset: pretty when stdout is a terminal, JSON otherwise. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  REELAY_TRUST_PROXY: bool.default(false),
  // Internal image hosts an operator trusts: comma-separated IP[:port] / [IPv6]:port entries.
  REELAY_FETCH_ALLOW_HOSTS: z
    .string()
    .default('')
    .refine((v) => v.split(',').every((e) => e.trim() === '' || isAddressEntry(e.trim())), 'must be comma-separated IP, IP:port or [IPv6]:port entries'),
  REELAY_AUTH_CACHE_MS: ms(10_000),
  WORKER_EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
  WORKER_EXPIRY_SWEEP_BATCH: z.coerce.number().int().positive().default(500),
  // Leftovers of killed workers (temp files, render folders) are local to a machine: every worker sweeps its own.
  WORKER_LEFTOVER_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(600_000),
  WORKER_LEFTOVER_MAX_AGE_MS: z.coerce.number().int().min(1000).default(3_600_000),
  // Operations: admin dashboard, client webhooks, metrics, shutdown.
  REELAY_DASHBOARD_WRITE: bool.default(false),
  REELAY_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(12),
  WEBHOOK_BACKOFF_MS: ms(30_000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().positive().default(10),
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(25_000),
  READINESS_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
});

export type Config = z.infer<typeof envSchema>;

export class ConfigError extends Error {}

/** Parses the environment once; the first bad variable is named in a single line. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = issue.path.join('.') || '(environment)';
    throw new ConfigError(`Invalid environment variable ${name}: ${issue.message}`);
  }
  checkStorage(result.data);
  secretsByConfig.set(result.data, cleaned);
  return result.data;
}

/** Settings that only make sense together. */
function checkStorage(c: z.infer<typeof envSchema>): void {
  const fail = (name: string, message: string) => {
    throw new ConfigError(`Invalid environment variable ${name}: ${message}`);
  };
  if (c.REELAY_STORAGE === 's3' && !c.REELAY_S3_BUCKET) fail('REELAY_S3_BUCKET', 'required when REELAY_STORAGE=s3');
  if (!c.REELAY_S3_ACCESS_KEY_ID !== !c.REELAY_S3_SECRET_ACCESS_KEY) {
    fail(
      c.REELAY_S3_ACCESS_KEY_ID ? 'REELAY_S3_SECRET_ACCESS_KEY' : 'REELAY_S3_ACCESS_KEY_ID',
      'set both REELAY_S3_ACCESS_KEY_ID and REELAY_S3_SECRET_ACCESS_KEY, or neither (the SDK then finds credentials itself)',
    );
  }
  if (c.REELAY_CONTENT_DELIVERY === 'redirect' && c.REELAY_STORAGE !== 's3')
    fail('REELAY_CONTENT_DELIVERY', 'redirect needs REELAY_STORAGE=s3 (local disk has no presigned URLs)');
}

// Kept beside the config rather than in it, so printing or serialising a config shows no secret.
const secretsByConfig = new WeakMap<object, Record<string, string | undefined>>();

/**
 * The secret held by the environment variable `name` (a target's `credentials` in the model
 * catalog), read from the same environment the config was parsed from. Throws a ConfigError
 * naming the variable when it is unset, so a worker stops at start instead of failing tasks.
 */
export function credentialFrom(config: Config, name: string): string {
  const env = secretsByConfig.get(config) ?? process.env;
  const value = env[name];
  if (!value) throw new ConfigError(`Invalid environment variable ${name}: not set (named as credentials in the model catalog)`);
  return value;
}

let cached: Config | undefined;

/** The process-wide config; exits with one clear line when the environment is invalid. */
export function loadConfig(): Config {
  if (cached) return cached;
  try {
    cached = parseConfig(process.env);
    return cached;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`reelay: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
