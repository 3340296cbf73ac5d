import { ApiError, invalidParameter } from './errors';

/** Deeper request values than this are refused: nothing Reelay accepts nests past a few levels. */
export const MAX_INPUT_DEPTH = 16;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Keys that would reach an object's prototype when copied naively. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Why a string cannot be taken as data: Postgres text cannot hold NUL, and a lone UTF-16 surrogate
 * is not a character in any encoding (Postgres, logs and upstream JSON would each fail differently).
 */
export function textProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain NUL (\\u0000) characters';
  if (LONE_SURROGATE.test(s)) return 'must be well-formed Unicode (it contains a lone surrogate)';
  return null;
}

/** Why a value cannot be taken, and where: the path of the field within the value, and the rule. */
export interface UnsafeInput {
  path: string[];
  rule: string;
  /** Refused for its depth (then `path` is only the top-level field). */
  tooDeep?: boolean;
}

/**
 * Walks a parsed value without recursion and returns the first reason to refuse it: too deep, a
 * prototype key, or text that cannot be stored. Depth is reported on the value's top-level field.
 */
export function findUnsafe(value: unknown, maxDepth = MAX_INPUT_DEPTH): UnsafeInput | null {
  const stack: { v: unknown; path: string[] }[] = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return { path, rule: problem };
      continue;
    }
    if (typeof v !== 'object' || v === null || Buffer.isBuffer(v)) continue;
    if (path.length >= maxDepth) return { path: path.slice(0, 1), rule: `nests deeper than ${maxDepth} levels`, tooDeep: true };
    for (const key of Object.keys(v)) {
      const keyProblem = textProblem(key);
      if (keyProblem) return { path, rule: `has a key that ${keyProblem}` };
      if (PROTOTYPE_KEYS.has(key)) return { path: [...path, key], rule: 'is not an accepted key' };
      stack.push({ v: (v as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return null;
}

/**
 * findUnsafe for a request value (body or query), as the 400 naming the field by its dotted path.
 * Checked at the edge, so no refused value reaches SQL, ffmpeg, logs or an upstream.
 */
export function findUnsafeInput(value: unknown, maxDepth = MAX_INPUT_DEPTH): ApiError | null {
  const found = findUnsafe(value, maxDepth);
  return found ? invalidParameter(found.path.join('.') || 'body', found.rule) : null;
}

/** Throws the 400 of findUnsafeInput, if any. */
export function assertSafeInput(value: unknown, maxDepth = MAX_INPUT_DEPTH): void {
  const err = findUnsafeInput(value, maxDepth);
  if (err) throw err;
}

/**
 * Every id Reelay issues is `<prefix>_<base62>`. Anything else cannot name a row, so it is refused
 * before a query: a hostile id (NUL, 10 kB, odd bytes) never reaches Postgres or a shared batch.
 */
export const isIssuedId = (prefix: string, raw: unknown): raw is string =>
  typeof raw === 'string' && raw.length <= 80 && raw.startsWith(`${prefix}_`) && /^[0-9A-Za-z]+$/.test(raw.slice(prefix.length + 1));

/** The id of a route parameter, or a 404 in the error shape: an id of the wrong form names nothing. */
export function issuedIdOr404(prefix: string, raw: unknown, what: string): string {
  if (!isIssuedId(prefix, raw)) throw new ApiError(404, 'not_found', `No ${what} found with that id`);
  return raw;
}
