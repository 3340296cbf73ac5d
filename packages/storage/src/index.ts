import { LocalStorage } from './local';
import { S3Storage } from './s3';
import type { ObjectStorage } from './storage';

export { LocalStorage } from './local';
export { S3Storage, type S3Settings } from './s3';
export { ObjectTooLargeError, type ByteRange, type ObjectInfo, type ObjectStorage, type PutOptions, type StoredObject } from './storage';
export * from './layout';

/** The storage settings of Reelay's environment (see docs/configuration.md, Storage). */
export interface StorageSettings {
  REELAY_STORAGE: 'local' | 's3';
  REELAY_STORAGE_DIR: string;
  REELAY_S3_BUCKET?: string;
  REELAY_S3_ENDPOINT?: string;
  REELAY_S3_REGION: string;
  REELAY_S3_ACCESS_KEY_ID?: string;
  REELAY_S3_SECRET_ACCESS_KEY?: string;
  REELAY_S3_FORCE_PATH_STYLE: boolean;
  REELAY_S3_PREFIX?: string;
}

/** The backend the settings choose: local disk under REELAY_STORAGE_DIR, or an S3 bucket (with scratch space in REELAY_STORAGE_DIR). */
export function createStorage(settings: StorageSettings): ObjectStorage {
  if (settings.REELAY_STORAGE === 'local') return new LocalStorage(settings.REELAY_STORAGE_DIR);
  if (!settings.REELAY_S3_BUCKET) throw new Error('REELAY_S3_BUCKET is required when REELAY_STORAGE=s3');
  return new S3Storage({
    bucket: settings.REELAY_S3_BUCKET,
    endpoint: settings.REELAY_S3_ENDPOINT,
    region: settings.REELAY_S3_REGION,
    accessKeyId: settings.REELAY_S3_ACCESS_KEY_ID,
    secretAccessKey: settings.REELAY_S3_SECRET_ACCESS_KEY,
    forcePathStyle: settings.REELAY_S3_FORCE_PATH_STYLE,
    prefix: settings.REELAY_S3_PREFIX,
    scratchRoot: settings.REELAY_STORAGE_DIR,
  });
}
