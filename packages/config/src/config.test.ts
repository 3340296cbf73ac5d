import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseConfig } from './index';

test('nothing needs setting for a local run', () => {
  const c = parseConfig({});
  expect(c.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/reelay');
  expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
  expect(c.PORT).toBe(8080);
  expect(c.REELAY_STATUS_DIALECT).toBe('seed');
  expect(c.REELAY_RESULT_TTL_SECONDS).toBe(86400);
});

test('a bad variable is named in the error', () => {
  expect(() => parseConfig({ PORT: 'eighty' })).toThrow(/^Invalid environment variable PORT: /);
  expect(() => parseConfig({ REELAY_STATUS_DIALECT: 'klingon' })).toThrow(/REELAY_STATUS_DIALECT/);
  expect(() => parseConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL/);
  expect(() => parseConfig({ REELAY_BOOTSTRAP_KEY: 'short' })).toThrow(/REELAY_BOOTSTRAP_KEY: must be at least 20 characters/);
});

test('empty values count as unset, so defaults apply', () => {
  expect(parseConfig({ PORT: '' }).PORT).toBe(8080);
});

test('a process started with a bad variable exits with one line naming it', () => {
  const root = resolve(__dirname, '../../..');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/api/src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: 'eighty' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.status).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.includes('npm warn'));
  expect(lines).toEqual(['reelay: Invalid environment variable PORT: Invalid input: expected number, received NaN']);
});

test('storage: local disk by default; s3 needs a bucket, both keys or neither, and redirect needs s3', () => {
  const local = parseConfig({});
  expect(local.REELAY_STORAGE).toBe('local');
  expect(local.REELAY_CONTENT_DELIVERY).toBe('stream');
  const s3 = parseConfig({ REELAY_STORAGE: 's3', REELAY_S3_BUCKET: 'reelay-videos', REELAY_S3_FORCE_PATH_STYLE: 'true', REELAY_CONTENT_DELIVERY: 'redirect' });
  expect(s3).toMatchObject({ REELAY_S3_REGION: 'us-east-1', REELAY_S3_FORCE_PATH_STYLE: true, REELAY_CONTENT_DELIVERY: 'redirect' });
  expect(() => parseConfig({ REELAY_STORAGE: 's3' })).toThrow('Invalid environment variable REELAY_S3_BUCKET: required when REELAY_STORAGE=s3');
  expect(() => parseConfig({ REELAY_STORAGE: 's3', REELAY_S3_BUCKET: 'Not_A_Bucket' })).toThrow(/REELAY_S3_BUCKET: must be an S3 bucket name/);
  expect(() => parseConfig({ REELAY_STORAGE: 'nfs' })).toThrow(/REELAY_STORAGE/);
  expect(() => parseConfig({ REELAY_STORAGE: 's3', REELAY_S3_BUCKET: 'reelay-videos', REELAY_S3_ACCESS_KEY_ID: 'AKIA123' })).toThrow(
    /REELAY_S3_SECRET_ACCESS_KEY: set both/,
  );
  expect(() => parseConfig({ REELAY_CONTENT_DELIVERY: 'redirect' })).toThrow(/REELAY_CONTENT_DELIVERY: redirect needs REELAY_STORAGE=s3/);
  expect(() => parseConfig({ REELAY_S3_ENDPOINT: 'minio:9000' })).toThrow(/REELAY_S3_ENDPOINT/);
});

test('a bad S3 setting never echoes the secret key', () => {
  let message = '';
  try {
    parseConfig({ REELAY_STORAGE: 's3', REELAY_S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-very-secret' });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/REELAY_S3/);
  expect(message).not.toContain('very-secret');
});
