import { z } from 'zod';
import { ApiError } from './errors';

const limit = z.number().int().positive().max(1_000_000).nullable();

/**
 * The settings of an API key as the admin API and the CLI accept them (snake_case, as on the
 * wire). `null` clears a limit; an empty allowed_models list allows every model.
 */
export const keySettingsSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    allowed_models: z.array(z.string().min(1).max(200)).max(200),
    max_concurrent: limit,
    max_queued: limit,
    rate_limit_per_minute: limit,
    /** Micro-units (1/1,000,000 of the currency). */
    budget_micros: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable(),
    status_dialect: z.enum(['seed', 'openai']).nullable(),
    webhook_url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL')
      .nullable(),
    webhook_secret: z.string().min(16).max(256).nullable(),
  })
  .strict()
  .partial()
  .meta({ id: 'KeySettings' });

export type KeySettings = z.infer<typeof keySettingsSchema>;

/** Parses key settings; the first problem is a 400 naming the field and the rule. */
export function parseKeySettings(body: unknown, opts: { requireName: boolean; knownModels: string[] }): KeySettings {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_parameter', 'Request body must be a JSON object of key settings');
  }
  const parsed = keySettingsSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const field = issue.keys[0]!;
      throw new ApiError(400, 'invalid_parameter', `Unknown parameter: ${field}`, field);
    }
    const field = String(issue.path[0] ?? '');
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: ${issue.path.join('.')}: ${issue.message}`, field || null);
  }
  const settings = parsed.data;
  if (opts.requireName && !settings.name) throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: name is required', 'name');
  for (const m of settings.allowed_models ?? []) {
    if (!opts.knownModels.includes(m)) {
      throw new ApiError(
        400,
        'invalid_parameter',
        `Invalid parameter: allowed_models: unknown model "${m}" (known: ${opts.knownModels.join(', ')})`,
        'allowed_models',
      );
    }
  }
  return settings;
}
