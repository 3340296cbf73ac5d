import type { Config } from '@reelay/config';
import { join, resolve } from 'node:path';
import { PreviewProvider } from './preview/preview-provider';
import type { Provider } from './provider';

/** Every provider this deployment can route to, by name. */
export function createProviders(config: Config): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  providers.set(
    'preview',
    new PreviewProvider({
      ffmpegPath: config.FFMPEG_PATH,
      workDir: join(resolve(config.REELAY_STORAGE_DIR), '..', 'preview-renders'),
      slots: config.WORKER_RENDER_SLOTS,
    }),
  );
  return providers;
}
