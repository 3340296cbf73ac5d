import { credentialFrom, type Config } from '@reelay/config';
import { ModelCatalog, targetKey, type ModelSpec, type ModelTarget } from '@reelay/core';
import { join, resolve } from 'node:path';
import { ComfyUIProvider } from './comfyui/comfyui-provider';
import { DEFAULT_FAL_BASE_URL, FalProvider } from './fal/fal-provider';
import { DEFAULT_VEO_BASE_URL, VeoProvider } from './gemini-veo/veo-provider';
import { KlingProvider } from './kling/kling-provider';
import { LumaProvider } from './luma/luma-provider';
import { MiniMaxProvider } from './minimax/minimax-provider';
import { DEFAULT_OPENAI_BASE_URL, OpenAICompatibleProvider } from './openai-compatible/openai-compatible-provider';
import { PreviewProvider } from './preview/preview-provider';
import { DEFAULT_REPLICATE_BASE_URL, ReplicateProvider } from './replicate/replicate-provider';
import { RunwayProvider } from './runway/runway-provider';
import { SeedanceProvider } from './seedance/seedance-provider';
import type { Provider, ProviderFactory, VideoOperation } from './provider';

/**
 * Every adapter this build knows, by the name a catalog target uses in `provider`.
 * Adding an upstream is one line here plus its folder.
 */
export const PROVIDER_FACTORIES: Record<string, ProviderFactory> = {
  preview: ({ config }) =>
    new PreviewProvider({
      ffmpegPath: config.FFMPEG_PATH,
      workDir: join(resolve(config.REELAY_STORAGE_DIR), '..', 'preview-renders'),
      slots: config.WORKER_RENDER_SLOTS,
      // A steady safety net, not a backoff: a slot freed in this process wakes the task sooner.
      queuedPollMs: config.POLL_MIN_MS * 2,
    }),
  'openai-compatible': (init) => new OpenAICompatibleProvider(init),
  fal: (init) => FalProvider.fromInit(init),
  replicate: (init) => ReplicateProvider.fromInit(init),
  'gemini-veo': (init) => VeoProvider.fromInit(init),
  runway: (init) => RunwayProvider.fromInit(init),
  luma: (init) => LumaProvider.fromInit(init),
  minimax: (init) => MiniMaxProvider.fromInit(init),
  kling: (init) => KlingProvider.fromInit(init),
  seedance: (init) => SeedanceProvider.fromInit(init),
  comfyui: (init) => ComfyUIProvider.fromInit(init),
};

/** What an adapter can do besides a plain create. */
export type ProviderCapability = Exclude<VideoOperation, 'create'> | 'characters';

/**
 * The capabilities each adapter has besides a plain create: preview renders edits and extensions
 * itself and names cast characters in its caption; openai-compatible passes edits and extensions
 * to its upstream's /v1/videos/edits and /v1/videos/extensions. Any adapter not listed does only
 * creates.
 */
export const PROVIDER_OPERATIONS: Record<string, readonly ProviderCapability[]> = {
  preview: ['edit', 'extend', 'characters'],
  'openai-compatible': ['edit', 'extend'],
};

/** A model can do an operation when every one of its targets can (a task may land on any of them). */
export function modelSupports(model: ModelSpec, operation: VideoOperation | ProviderCapability): boolean {
  return operation === 'create' || model.targets.every((t) => PROVIDER_OPERATIONS[t.provider]?.includes(operation) ?? false);
}

/** The upstream each adapter calls when a target sets no `baseUrl`. */
export const DEFAULT_BASE_URLS: Record<string, string> = {
  'openai-compatible': DEFAULT_OPENAI_BASE_URL,
  fal: DEFAULT_FAL_BASE_URL,
  replicate: DEFAULT_REPLICATE_BASE_URL,
  'gemini-veo': DEFAULT_VEO_BASE_URL,
};

/** Adapters whose targets must name the upstream model (an example of one each), checked by `reelay catalog check`. */
export const NEEDS_UPSTREAM_MODEL: Record<string, string> = {
  fal: '"fal-ai/veo3"',
  replicate: '"owner/name" or "owner/name:<version>"',
  'gemini-veo': '"veo-3.1-generate-preview"',
};

/** Target `options` that name an environment variable (holding a secret, never the secret itself). */
export const ENV_VARIABLE_OPTIONS = ['webhookSecretEnv', 'secretKeyEnv'];

/** The provider instances of one process: one per distinct catalog target, addressed by target key. */
export class ProviderRegistry {
  private readonly byKey = new Map<string, Provider>();
  private readonly targetByKey = new Map<string, ModelTarget>();

  constructor(config: Config, catalog: ModelCatalog, factories: Record<string, ProviderFactory> = PROVIDER_FACTORIES) {
    const shared = new Map<string, Provider>(); // preview has no key or URL: one renderer per process
    for (const [key, target] of catalog.targets()) {
      const factory = factories[target.provider];
      if (!factory) {
        throw new Error(`model catalog: unknown provider "${target.provider}" (known: ${Object.keys(factories).join(', ')})`);
      }
      const apiKey = target.credentials ? credentialFrom(config, target.credentials) : undefined;
      const provider =
        !target.baseUrl && !target.credentials && shared.has(target.provider)
          ? shared.get(target.provider)!
          : factory({
              targetKey: key,
              baseUrl: target.baseUrl,
              apiKey,
              requestTimeoutMs: config.PROVIDER_REQUEST_TIMEOUT_MS,
              options: target.options ?? {},
              config,
            });
      if (!target.baseUrl && !target.credentials) shared.set(target.provider, provider);
      this.byKey.set(key, provider);
      this.targetByKey.set(key, target);
    }
  }

  /**
   * The instance that serves a target key (as stored on a task), if this catalog still has it.
   * A bare adapter name ("preview") means that adapter's target without URL or credentials.
   */
  get(key: string): Provider | undefined {
    return this.byKey.get(key) ?? (key.includes('|') ? undefined : this.byKey.get(targetKey({ provider: key })));
  }

  target(key: string): ModelTarget | undefined {
    return this.targetByKey.get(key) ?? (key.includes('|') ? undefined : this.targetByKey.get(targetKey({ provider: key })));
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }
}

export { targetKey };

/** The registry for this config's catalog (REELAY_MODELS_FILE, or the built-in one). */
export function createProviders(config: Config, catalog: ModelCatalog = ModelCatalog.load(config.REELAY_MODELS_FILE)): ProviderRegistry {
  return new ProviderRegistry(config, catalog);
}
