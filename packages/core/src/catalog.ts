import { readFileSync } from 'node:fs';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { z } from 'zod';

/**
 * The model catalog: each public model name, its limits and defaults, and the ordered upstream
 * targets it routes to. The default catalog serves every model with the built-in preview renderer;
 * REELAY_MODELS_FILE (same shape) replaces it. The file is JSON that may carry comments and
 * trailing commas (JSONC), so a catalog can explain itself. Every object is strict: a misspelt
 * field is an error rather than a setting silently ignored.
 */
const range = z.strictObject({ min: z.number(), max: z.number() }).refine((r) => r.min <= r.max, 'min must not exceed max');
const rangeOrValues = (values: z.ZodNumber) =>
  z.union([range, z.strictObject({ values: z.array(values).min(1) })], {
    error: 'must be {"min": N, "max": N} or {"values": [N, ...]}',
  });

export const targetSchema = z.strictObject({
  /** Adapter name, a key of the provider factory map (preview, openai-compatible, …). */
  provider: z.string().min(1),
  upstreamModel: z.string().min(1).optional(),
  /** Name of the environment variable holding the secret (never the secret itself). */
  credentials: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name (A-Z, 0-9, _)')
    .optional(),
  /** Upstream API root; each adapter has its own default. */
  baseUrl: z.string().url().optional(),
  /**
   * Targets are tried in ascending priority; targets sharing a priority share load round-robin
   * (e.g. several keys of one provider). Defaults to the target's position in the list.
   */
  priority: z.number().int().optional(),
  /** Requests per second this target accepts, across every worker process. */
  maxRequestsPerSecond: z.number().positive().optional(),
  /** Upstream tasks in flight at once on this target, across every worker process. */
  maxConcurrentTasks: z.number().int().positive().optional(),
  /** Adapter-specific settings (e.g. openai-compatible `dialect`); see each adapter's docs. */
  options: z.record(z.string(), z.unknown()).optional(),
});

export const modelSpecSchema = z.strictObject({
  id: z.string().min(1),
  description: z.string().default(''),
  targets: z.array(targetSchema).min(1),
  duration: rangeOrValues(z.number().positive()),
  /** Either a list of "WxH" sizes or ranges for width and height (even numbers only). */
  size: z.union([z.strictObject({ values: z.array(z.string().regex(/^\d+x\d+$/)).min(1) }), z.strictObject({ width: range, height: range })], {
    error: 'must be {"values": ["WxH", ...]} or {"width": {"min": N, "max": N}, "height": {"min": N, "max": N}}',
  }),
  fps: rangeOrValues(z.number().int().positive()),
  maxN: z.number().int().positive().default(1),
  acceptsImage: z.boolean().default(true),
  supportsRemix: z.boolean().default(true),
  /**
   * Price per second of output, in micro-units (1/1,000,000 of the currency), by resolution tier:
   * the first tier whose maxPixels (width x height) covers the video applies; the last tier may
   * omit maxPixels to cover everything larger. Absent: the model is free.
   */
  pricing: z
    .array(z.strictObject({ maxPixels: z.number().int().positive().optional(), microsPerSecond: z.number().int().nonnegative() }))
    .min(1)
    .optional(),
  defaults: z.strictObject({
    duration: z.number().positive(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    fps: z.number().int().positive(),
  }),
  /** A task not finished this long after it was created fails with code `timeout` (default 3600). */
  deadlineSeconds: z.number().int().positive().optional(),
});

export type ModelSpec = z.infer<typeof modelSpecSchema>;
export type ModelTarget = z.infer<typeof targetSchema>;

/**
 * The stable id of one upstream target: adapter, base URL and credential name (never the secret).
 * Stored on the task, so every poll, download and cancel reaches the upstream and key that
 * accepted it, even after a restart or a catalog reordering.
 */
export const targetKey = (t: Pick<ModelTarget, 'provider' | 'baseUrl' | 'credentials'>): string => [t.provider, t.baseUrl ?? '', t.credentials ?? ''].join('|');

export const catalogFileSchema = z.strictObject({
  defaultModel: z.string().min(1),
  models: z.array(modelSpecSchema).min(1),
});
export type CatalogFile = z.infer<typeof catalogFileSchema>;

const preview = [{ provider: 'preview' }];

const anySize = { width: { min: 64, max: 3840 }, height: { min: 64, max: 3840 } };

/**
 * Every built-in model is served by the preview renderer, so none carries a price: a preview clip
 * costs nothing unless a catalog file prices it on purpose (`pricing`, per model).
 */
export const DEFAULT_CATALOG: CatalogFile = {
  defaultModel: 'sora-1.0',
  models: [
    {
      id: 'sora-1.0',
      description: 'Text and image to video, 1-60 s, any size up to 3840x3840.',
      targets: preview,
      duration: { min: 1, max: 60 },
      size: anySize,
      fps: { values: [24, 25, 30, 60] },
      maxN: 4,
      acceptsImage: true,
      supportsRemix: true,
      defaults: { duration: 5, width: 1280, height: 720, fps: 30 },
      deadlineSeconds: 3600,
    },
    {
      id: 'sora-turbo',
      description: 'Faster, shorter clips: 1-20 s up to 1920x1920.',
      targets: preview,
      duration: { min: 1, max: 20 },
      size: { width: { min: 64, max: 1920 }, height: { min: 64, max: 1920 } },
      fps: { values: [24, 25, 30] },
      maxN: 4,
      acceptsImage: true,
      supportsRemix: true,
      defaults: { duration: 5, width: 1280, height: 720, fps: 24 },
      deadlineSeconds: 3600,
    },
    {
      id: 'sora-2',
      description: 'OpenAI-style model: 4, 8 or 12 s at 720x1280 or 1280x720.',
      targets: preview,
      duration: { values: [4, 8, 12] },
      size: { values: ['720x1280', '1280x720'] },
      fps: { values: [24, 30] },
      maxN: 2,
      acceptsImage: true,
      supportsRemix: true,
      defaults: { duration: 4, width: 720, height: 1280, fps: 30 },
      deadlineSeconds: 3600,
    },
    {
      id: 'sora-2-pro',
      description: 'OpenAI-style model: 4, 8 or 12 s, adds 1024x1792 and 1792x1024.',
      targets: preview,
      duration: { values: [4, 8, 12] },
      size: { values: ['720x1280', '1280x720', '1024x1792', '1792x1024'] },
      fps: { values: [24, 30] },
      maxN: 2,
      acceptsImage: true,
      supportsRemix: true,
      defaults: { duration: 4, width: 720, height: 1280, fps: 30 },
      deadlineSeconds: 3600,
    },
  ],
};

/**
 * Which adapter serves a model, as clients may see it: adapter names and upstream model names
 * only, never a credential, a credential's variable name or an upstream address.
 */
export function modelUpstream(model: Pick<ModelSpec, 'targets'>): {
  adapter: string;
  targets: { adapter: string; model: string | null; priority: number }[];
} {
  // The order a task tries them (targetGroups), so what clients see is what routing does.
  const targets = targetGroups(model).flatMap((g) => g.targets.map((t) => ({ adapter: t.provider, model: t.upstreamModel ?? null, priority: g.priority })));
  return { adapter: targets[0]!.adapter, targets };
}

export class ModelCatalog {
  private readonly byId: Map<string, ModelSpec>;

  constructor(readonly file: CatalogFile) {
    this.byId = new Map(file.models.map((m) => [m.id, m]));
    if (!this.byId.has(file.defaultModel)) {
      throw new Error(`model catalog: defaultModel "${file.defaultModel}" is not one of its models`);
    }
  }

  get(id: string): ModelSpec | undefined {
    return this.byId.get(id);
  }

  get defaultModel(): ModelSpec {
    return this.byId.get(this.file.defaultModel)!;
  }

  list(): ModelSpec[] {
    return [...this.byId.values()];
  }

  /** Every distinct upstream target of every model, by target key. */
  targets(): Map<string, ModelTarget> {
    const out = new Map<string, ModelTarget>();
    for (const m of this.file.models) for (const t of m.targets) if (!out.has(targetKey(t))) out.set(targetKey(t), t);
    return out;
  }

  /** The built-in catalog, or the file at `path`; a bad file throws naming it and every problem. */
  static load(path?: string): ModelCatalog {
    if (!path) return new ModelCatalog(DEFAULT_CATALOG);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`model catalog ${path}: ${(err as Error).message}`, { cause: err });
    }
    const parsed = parseCatalog(text);
    if (!parsed.ok) throw new Error(`model catalog ${path}: ${parsed.problems.map(formatProblem).join('; ')}`);
    return parsed.catalog;
  }
}

/** One thing wrong with a catalog: where (a field path such as `models[0].targets[1].provider`) and what. */
export interface CatalogProblem {
  path: string;
  message: string;
}

export const formatProblem = (p: CatalogProblem): string => `${p.path}: ${p.message}`;

/** `["models", 0, "targets"]` → `models[0].targets`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(top level)';
}

/** 1-based line and column of a character offset, for syntax errors. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/**
 * Parses catalog text: syntax (JSON with comments and trailing commas), then the schema, then
 * the rules across fields (unique model ids, defaultModel among them). Returns every problem
 * found rather than the first, each named by its field path.
 */
export function parseCatalog(text: string): { ok: true; catalog: ModelCatalog } | { ok: false; problems: CatalogProblem[] } {
  const syntax: ParseError[] = [];
  const raw: unknown = parseJsonc(text, syntax, { allowTrailingComma: true, disallowComments: false });
  if (syntax.length) {
    // The first one only: those after it usually follow from it.
    const e = syntax[0]!;
    return { ok: false, problems: [{ path: lineAndColumn(text, e.offset), message: `syntax error: ${printParseErrorCode(e.error)}` }] };
  }
  const result = catalogFileSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue): CatalogProblem[] =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((k) => ({ path: fieldPath([...issue.path, k]), message: 'unknown field' }))
        : [{ path: fieldPath(issue.path), message: issue.message }],
    );
    return { ok: false, problems };
  }
  const file = result.data;
  const problems: CatalogProblem[] = [];
  const seen = new Set<string>();
  file.models.forEach((m, i) => {
    if (seen.has(m.id)) problems.push({ path: fieldPath(['models', i, 'id']), message: `duplicate model id "${m.id}"` });
    seen.add(m.id);
  });
  if (!seen.has(file.defaultModel)) {
    problems.push({ path: 'defaultModel', message: `"${file.defaultModel}" is not one of the catalog's models (${[...seen].join(', ')})` });
  }
  return problems.length ? { ok: false, problems } : { ok: true, catalog: new ModelCatalog(file) };
}

/**
 * A model's targets in the order a task tries them: groups by `priority` (default: position in
 * the list), lowest first. Targets of one group share load round-robin; later groups are failover.
 */
export function targetGroups(model: Pick<ModelSpec, 'targets'>): { priority: number; targets: ModelTarget[] }[] {
  const groups = new Map<number, ModelTarget[]>();
  model.targets.forEach((t, i) => {
    const p = t.priority ?? i;
    groups.set(p, [...(groups.get(p) ?? []), t]);
  });
  return [...groups.keys()].sort((a, b) => a - b).map((priority) => ({ priority, targets: groups.get(priority)! }));
}

/** Human-readable statement of a limit, used in 400 messages and /v1/models. */
export function describeRange(r: { min: number; max: number } | { values: number[] }, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  return 'values' in r ? `one of ${r.values.join(', ')}${u}` : `between ${r.min} and ${r.max}${u}`;
}
