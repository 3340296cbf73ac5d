import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types; its constructor options and run()/close() are all this uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };

/** s3rver's one account: it accepts any request that names this access key. */
const ACCESS_KEY = 'S3RVER';

/**
 * A real S3-compatible server on loopback (s3rver, https://github.com/jamhall/s3rver) with one
 * bucket, its objects in a throwaway folder. It speaks the S3 REST API the AWS SDK uses: Put,
 * Get (Range), Head, ListObjectsV2, Delete, DeleteObjects, multipart upload, presigned GET with
 * expiry and response-header overrides.
 *
 * What it does not emulate, and tests must not rely on: SigV4 signatures are not verified (only
 * the access key id is checked, so a tampered presigned URL is still served until it expires);
 * no checksum headers (CRC32/SHA256) are checked; a multipart object's ETag is not S3's
 * "<md5>-<parts>" form; no bucket policies, lifecycle rules (e.g. aborting incomplete multipart
 * uploads), versioning or throttling (503 SlowDown). It does refuse a request that carries two
 * authorisations (an Authorization header and a presigned query), as S3 does.
 */
export class S3TestServer {
  private constructor(
    private readonly server: { close(): Promise<void> },
    private readonly dir: string,
    readonly endpoint: string,
    readonly bucket: string,
  ) {}

  static async start(opts: { bucket?: string } = {}): Promise<S3TestServer> {
    const dir = mkdtempSync(join(tmpdir(), 'reelay-s3-'));
    const bucket = opts.bucket ?? 'reelay-test';
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
    const { port } = await server.run();
    return new S3TestServer(server, dir, `http://127.0.0.1:${port}`, bucket);
  }

  /** Reelay's environment for this server (REELAY_STORAGE=s3 and the REELAY_S3_* settings). */
  env(extra: { prefix?: string } = {}): Record<string, string> {
    return {
      REELAY_STORAGE: 's3',
      REELAY_S3_BUCKET: this.bucket,
      REELAY_S3_ENDPOINT: this.endpoint,
      REELAY_S3_REGION: 'us-east-1',
      REELAY_S3_ACCESS_KEY_ID: ACCESS_KEY,
      REELAY_S3_SECRET_ACCESS_KEY: ACCESS_KEY,
      REELAY_S3_FORCE_PATH_STYLE: 'true',
      ...(extra.prefix ? { REELAY_S3_PREFIX: extra.prefix } : {}),
    };
  }

  async close(): Promise<void> {
    await this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
