import { readFileSync } from 'node:fs';
import { ConfigError, parseConfig, type Config } from '@reelay/config';
import { fieldPath, parseCatalog, targetGroups, targetKey, type CatalogProblem, type ModelTarget } from '@reelay/core';
import type { ProviderFactory } from './provider';
import { DEFAULT_BASE_URLS, ENV_VARIABLE_OPTIONS, NEEDS_UPSTREAM_MODEL, PROVIDER_FACTORIES } from './registry';

/** One upstream a model may be sent to, in the order its tasks try them. */
export interface CheckedRoute {
  /** 1 for the targets tried first; targets sharing a rank share load round-robin. */
  rank: number;
  target: ModelTarget;
  /** The upstream called: the target's baseUrl or its adapter's default (none for preview). */
  url: string | null;
}

export interface CatalogCheck {
  /** Empty when a worker would start on this catalog in this environment. */
  problems: CatalogProblem[];
  /** Variables named by a target (`credentials`, `options.webhookSecretEnv`) that the environment does not set. */
  missingEnv: string[];
  models: { id: string; isDefault: boolean; routes: CheckedRoute[] }[];
}

/**
 * Checks a catalog file the way a worker reads it at start: the file parses and matches the
 * schema, every target's adapter exists, every variable a target names is set in `env`, and each
 * adapter accepts its target (required fields, `options`, variables those name). Also flags what
 * a worker would only find at a task's submit: a missing `upstreamModel`. Every problem is
 * reported, named by its field path; no upstream is called.
 */
export function checkCatalogFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  factories: Record<string, ProviderFactory> = PROVIDER_FACTORIES,
): CatalogCheck {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { problems: [{ path: '(file)', message: (err as Error).message }], missingEnv: [], models: [] };
  }
  const parsed = parseCatalog(text);
  if (!parsed.ok) return { problems: parsed.problems, missingEnv: [], models: [] };
  const catalog = parsed.catalog;

  const problems: CatalogProblem[] = [];
  const missing = new Set<string>();
  /** The variables a target names (its key, and options that name a secret's variable), by field path. */
  const variablesOf = (target: ModelTarget, at: (...fields: string[]) => string): [string, string][] => [
    ...(target.credentials ? [[at('credentials'), target.credentials] as [string, string]] : []),
    ...ENV_VARIABLE_OPTIONS.flatMap((option): [string, string][] => {
      const name = target.options?.[option];
      return typeof name === 'string' ? [[at('options', option), name]] : [];
    }),
  ];

  // Unset variables are reported first. Adapters are then built with a stand-in for each, so their
  // own checks (options, required fields) are reported in the same run.
  const standIns: NodeJS.ProcessEnv = {};
  catalog.file.models.forEach((model, m) =>
    model.targets.forEach((target, t) => {
      for (const [path, name] of variablesOf(target, (...fields) => fieldPath(['models', m, 'targets', t, ...fields]))) {
        if (env[name]) continue;
        missing.add(name);
        standIns[name] = 'unset';
        problems.push({ path, message: `environment variable ${name} is not set` });
      }
    }),
  );
  let config: Config | null = null;
  try {
    config = parseConfig({ ...env, ...standIns });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push({ path: '(environment)', message: err.message });
  }

  const refusals = new Map<string, string | null>(); // target key → why its adapter refused it, or null
  const adapterRefusal = (target: ModelTarget, config: Config): string | null => {
    const key = targetKey(target);
    if (!refusals.has(key)) {
      try {
        factories[target.provider]!({
          targetKey: key,
          baseUrl: target.baseUrl,
          apiKey: target.credentials ? (env[target.credentials] ?? standIns[target.credentials]) : undefined,
          requestTimeoutMs: config.PROVIDER_REQUEST_TIMEOUT_MS,
          options: target.options ?? {},
          config,
        });
        refusals.set(key, null);
      } catch (err) {
        refusals.set(key, (err as Error).message.replace(/^model catalog: /, ''));
      }
    }
    return refusals.get(key)!;
  };

  catalog.file.models.forEach((model, m) => {
    model.targets.forEach((target, t) => {
      const at = (...fields: string[]) => fieldPath(['models', m, 'targets', t, ...fields]);
      if (!factories[target.provider]) {
        problems.push({ path: at('provider'), message: `unknown adapter "${target.provider}" (known: ${Object.keys(factories).join(', ')})` });
        return;
      }
      if (!target.upstreamModel && NEEDS_UPSTREAM_MODEL[target.provider]) {
        problems.push({ path: at('upstreamModel'), message: `a ${target.provider} target needs one, e.g. ${NEEDS_UPSTREAM_MODEL[target.provider]}` });
      }
      // The preview renderer takes no key, URL or options; building it would only create its render folder.
      if (target.provider === 'preview' || !config) return;
      const refusal = adapterRefusal(target, config);
      if (refusal) problems.push({ path: at(), message: refusal });
    });
  });

  return {
    problems,
    missingEnv: [...missing].sort(),
    models: catalog.list().map((model) => ({
      id: model.id,
      isDefault: model.id === catalog.defaultModel.id,
      routes: targetGroups(model).flatMap((group, i) =>
        group.targets.map((target) => ({ rank: i + 1, target, url: target.baseUrl ?? DEFAULT_BASE_URLS[target.provider] ?? null })),
      ),
    })),
  };
}
