import fc from 'fast-check';
import type { RawRequest } from './client';
import { formText, JsonEntries, jsonText, RawJson, type JsonValue } from './json-text';
import { arbitraryFor } from './schema';
import { hostileString, hostileValue, IMAGES, imageName, imageText, NASTY_STRINGS, type ImageName } from './values';

/** A catalog model as GET /v1/models describes it. */
export interface ModelInfo {
  id: string;
  limits: {
    seconds: { min: number; max: number } | { values: number[] };
    size: { values: string[] } | { width: { min: number; max: number }; height: { min: number; max: number } };
    fps: { min: number; max: number } | { values: number[] };
    max_n: number;
  };
  capabilities: { image_input: boolean; remix: boolean };
}

/** What the fuzzer knows while it runs: the tenants, and the ids it has seen made. */
export interface World {
  ownerKey: string;
  otherKey: string;
  adminToken: string;
  spareKeyId: string;
  ownerKeyId: string;
  otherKeyId: string;
  /** Videos of tenant 1 (owner) and tenant 2 (other) that exist. */
  ownerVideos: string[];
  otherVideos: string[];
  completedVideo: string;
  completedEtag: string;
  deletedVideo: string;
  deletedIdempotencyKey: string;
  queueNames: string[];
  /** Ids (prefix_…) seen in 2xx answers to each tenant, of any kind: what generic requests put in paths. */
  learned: { owner: string[]; other: string[] };
  seq: number;
}

export type Auth = 'owner' | 'other' | 'none' | 'garbage' | 'admin' | 'admin-basic' | 'admin-wrong';

/** What a request is, for the oracles: which tenant a 2xx create belongs to, what a 400 must name. */
export interface Expect {
  /** A 2xx here reads or changes another tenant's video: never allowed. */
  crossTenant?: boolean;
  /** The one field changed from a valid request: a 400 invalid_parameter must name it (top level). */
  field?: string;
  /** A 2xx answer is a new task (or an idempotent replay) of this tenant. */
  creates?: 'owner' | 'other';
  /** A 2xx list answer of this tenant must not show the other tenant's ids. */
  lists?: 'owner' | 'other';
  /** Sent with this Idempotency-Key. */
  idempotencyKey?: string;
  /** Small enough for the preview renderer to finish in a second or two. */
  renderable?: boolean;
}

export interface Built {
  req: RawRequest;
  expect: Expect;
}

/** One generated request; `build` resolves id choices against the ids known when it is sent. */
export interface Plan {
  route: string;
  build(w: World): Built;
  /** Requests sent at the same moment (a race), instead of one. */
  burst?: number;
}

type IdRef = { kind: 'own' | 'completed' | 'deleted' | 'other'; pick: number } | { kind: 'raw'; text: string; encode: boolean };

/** `arb` in about `percent`% of cases, else undefined (fc.option's freq counts the other way round). */
const sometimes = <T>(arb: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: percent, arbitrary: arb }, { weight: 100 - percent, arbitrary: fc.constant(undefined) });

const pick = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);

/** Ids of every kind a client could send where an id goes. */
const idRef: fc.Arbitrary<IdRef> = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((pick) => ({ kind: 'own' as const, pick })) },
  { weight: 3, arbitrary: fc.constant({ kind: 'completed' as const, pick: 0 }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'deleted' as const, pick: 0 }) },
  { weight: 3, arbitrary: fc.nat().map((pick) => ({ kind: 'other' as const, pick })) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof(
          hostileString,
          fc.constantFrom(
            'vid_',
            'vid_doesnotexist0000',
            'VID_abc',
            'vid_abc def',
            'vid_%00',
            'vid_..',
            'key_abc',
            'vid_' + 'a'.repeat(200),
            'vid_ä',
            'vid_abc/remix',
          ),
          fc.stringMatching(/^vid_[0-9A-Za-z]{1,30}$/),
        ),
        fc.boolean(),
      )
      .map(([text, encode]) => ({ kind: 'raw' as const, text, encode })),
  },
);

/** An id as path text; raw ids go unencoded half the time (bytes the parser must cope with). */
function idText(w: World, ref: IdRef): { text: string; owner: 'owner' | 'other' | null } {
  switch (ref.kind) {
    case 'own':
      return { text: pick(w.ownerVideos, ref.pick) ?? w.completedVideo, owner: 'owner' };
    case 'completed':
      return { text: w.completedVideo, owner: 'owner' };
    case 'deleted':
      return { text: w.deletedVideo, owner: 'owner' };
    case 'other':
      return { text: pick(w.otherVideos, ref.pick) ?? 'vid_none', owner: 'other' };
    case 'raw':
      return { text: ref.encode ? pctEncode(ref.text) : latin1Path(ref.text), owner: null };
  }
}

/** encodeURIComponent, except that a lone surrogate goes as its (invalid) three UTF-8-style bytes instead of throwing. */
export function pctEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c < 0xdc00 && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(s[i]!);
    }
  }
  return out;
}

/** Path text as raw bytes: characters above U+00FF go as UTF-8, the rest as single bytes. */
export function latin1Path(s: string): string {
  return Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[\r\n]/g, '%0A');
}

export function authHeader(w: World, auth: Auth): [string, string][] {
  switch (auth) {
    case 'owner':
      return [['Authorization', `Bearer ${w.ownerKey}`]];
    case 'other':
      return [['Authorization', `Bearer ${w.otherKey}`]];
    case 'none':
      return [];
    case 'garbage':
      return [['Authorization', 'Bearer rl_not_a_real_key_0000000000']];
    case 'admin':
      return [['Authorization', `Bearer ${w.adminToken}`]];
    case 'admin-basic':
      return [['Authorization', `Basic ${Buffer.from(`ops:${w.adminToken}`).toString('base64')}`]];
    case 'admin-wrong':
      return [['Authorization', 'Bearer wrong-admin-token-000000000000']];
  }
}

export const oddAuthorization = fc.constantFrom(
  'Bearer',
  'Bearer ',
  'bearer rl_x',
  'Basic Og==',
  'Basic !!!notbase64',
  'Token abc',
  'Bearer a b c',
  `Bearer ${'k'.repeat(3000)}`,
  'Bearer \u00ff\u00fe',
);

// --- Create bodies --------------------------------------------------------------------------

const validPrompt = fc.oneof(
  fc.constantFrom(
    'a red fox in the snow',
    '%{e:while(1,1)}',
    '%{pts} %{localtime} %{n}',
    "it's 5:00 \\ o'clock: yes",
    'line one\nline two\r\nline three',
    'שלום 🎬 мир مرحبا',
    '\u202eRTL override',
    'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗',
    "'; DROP TABLE tasks; --",
    '$(touch /tmp/pwned) `id`',
    '{{7*7}} ${7*7}',
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }).filter((s) => s.trim() !== ''),
);

interface ValidCreate {
  body: Record<string, JsonValue>;
  renderable: boolean;
}

const rangeOrValues = (r: { min: number; max: number } | { values: number[] }, off: number): number =>
  'values' in r ? [...r.values].sort((a, b) => a - b)[off % Math.min(2, r.values.length)]! : r.min + (off % Math.max(1, Math.min(2, r.max - r.min + 1)));

/** A create body that the model accepts (smallest sizes), spelled either way the API takes. */
function validCreate(models: ModelInfo[]): fc.Arbitrary<ValidCreate> {
  return fc
    .record({
      m: fc.nat(),
      prompt: validPrompt,
      spellSeconds: fc.boolean(),
      spellSize: fc.boolean(),
      asText: fc.boolean(),
      off: fc.nat({ max: 3 }),
      n: fc.nat({ max: 1 }),
      seed: fc.option(fc.nat({ max: 4294967295 }), { nil: undefined }),
      user: fc.option(fc.string({ unit: 'grapheme', maxLength: 40 }), { nil: undefined }),
      metadata: fc.option(
        fc.dictionary(fc.constantFrom('style', 'negative_prompt', 'quality_level', 'camera'), fc.string({ unit: 'grapheme', maxLength: 20 }), { maxKeys: 3 }),
        { nil: undefined },
      ),
      responseFormat: fc.option(fc.constantFrom('url', 'b64_json'), { nil: undefined }),
      callback: fc.option(fc.constantFrom('http://127.0.0.1:9/hook', 'https://example.invalid/hook?x=1'), { nil: undefined }),
      withImage: fc.nat({ max: 5 }),
    })
    .map((r) => {
      const model = models[r.m % models.length]!;
      const l = model.limits;
      const seconds = rangeOrValues(l.seconds, r.off);
      let width: number;
      let height: number;
      if ('values' in l.size) {
        [width, height] = l.size.values[r.off % l.size.values.length]!.split('x').map(Number) as [number, number];
      } else {
        width = l.size.width.min + 2 * (r.off % 2);
        height = l.size.height.min;
      }
      const fps = rangeOrValues(l.fps, 0);
      const n = Math.min(l.max_n, 1 + r.n);
      const num = (v: number): JsonValue => (r.asText ? String(v) : v);
      const body: Record<string, JsonValue> = { model: model.id, prompt: r.prompt };
      if (r.spellSeconds) body.seconds = String(seconds);
      else body.duration = num(seconds);
      if (r.spellSize) body.size = `${width}x${height}`;
      else Object.assign(body, { width: num(width), height: num(height) });
      body.fps = num(fps);
      if (n > 1) body.n = num(n);
      if (r.seed !== undefined) body.seed = num(r.seed);
      if (r.user !== undefined) body.user = r.user;
      if (r.metadata !== undefined) body.metadata = r.metadata;
      if (r.responseFormat !== undefined) body.response_format = r.responseFormat;
      if (r.callback !== undefined) body.callback_url = r.callback;
      if (r.withImage === 0 && model.capabilities.image_input) body.image = `data:image/png;base64,${IMAGES.validPng.toString('base64')}`;
      const renderable = width * height <= 256 * 256 && seconds <= 4 && n <= 2 && fps <= 30;
      return { body, renderable };
    });
}

const CREATE_FIELDS = [
  'model',
  'prompt',
  'image',
  'input_reference',
  'duration',
  'seconds',
  'width',
  'height',
  'size',
  'fps',
  'seed',
  'n',
  'response_format',
  'user',
  'metadata',
  'callback_url',
];

type Mutation =
  | { kind: 'none' }
  | { kind: 'set'; field: string; value: JsonValue }
  | { kind: 'image'; field: 'image' | 'input_reference'; text: string; image: ImageName | null; wrap: boolean }
  | { kind: 'unknown'; key: string }
  | { kind: 'duplicate'; field: string }
  | { kind: 'prototype'; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('set' as const), field: fc.constantFrom(...CREATE_FIELDS), value: hostileValue }) },
  {
    weight: 3,
    arbitrary: fc
      .record({ field: fc.constantFrom('image' as const, 'input_reference' as const), img: imageText, wrap: fc.boolean() })
      .map(({ field, img, wrap }) => ({ kind: 'image' as const, field, text: img.text, image: img.image, wrap })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.constantFrom('promt', 'durations', 'Model', 'size ', 'input', 'quality', 'webhook'), hostileString)
      .map((key) => ({ kind: 'unknown' as const, key })),
  },
  { weight: 1, arbitrary: fc.constantFrom(...CREATE_FIELDS).map((field) => ({ kind: 'duplicate' as const, field })) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype').map((key) => ({ kind: 'prototype' as const, key })) },
);

// eslint-disable-next-line no-control-regex -- the fuzzer looks for them on purpose
const UNNAMEABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

interface CreateBody {
  entries: [string, JsonValue][];
  /** The field a 400 must name, when exactly one field was made invalid. */
  field?: string;
  upload?: { field: string; image: ImageName };
  renderable: boolean;
}

function applyMutation(v: ValidCreate, m: Mutation): CreateBody {
  const entries = Object.entries(v.body) as [string, JsonValue][];
  const without = (f: string) => entries.filter(([k]) => k !== f);
  switch (m.kind) {
    case 'none':
      return { entries, renderable: v.renderable };
    case 'set':
      return { entries: [...without(m.field), [m.field, m.value]], field: m.field, renderable: v.renderable };
    case 'image': {
      const rest = without('image').filter(([k]) => k !== 'input_reference');
      const value: JsonValue = m.field === 'input_reference' && m.wrap ? { image_url: m.text } : m.text;
      return { entries: [...rest, [m.field, value]], field: m.field, renderable: v.renderable };
    }
    case 'unknown':
      if (CREATE_FIELDS.includes(m.key)) return { entries, renderable: v.renderable };
      // A key that cannot be named as it is (NUL, a lone surrogate) is reported on the body.
      return { entries: [...entries, [m.key, 1]], field: UNNAMEABLE.test(m.key) ? 'body' : m.key, renderable: v.renderable };
    case 'duplicate': {
      const present = entries.find(([k]) => k === m.field);
      return present ? { entries: [...entries, present], field: m.field, renderable: v.renderable } : { entries, renderable: v.renderable };
    }
    case 'prototype':
      return { entries: [...entries, [m.key, { polluted: true }]], field: m.key, renderable: v.renderable };
  }
}

// --- Encodings --------------------------------------------------------------------------------

const CONTENT_TYPES_JSON = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-8',
  'application/json;charset="utf-8"',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=utf-16le',
  'application/json; charset=utf-32',
  'application/json; charset=',
  'application/json;;;',
  'application/json, text/plain',
  'application/vnd.api+json',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  '',
];

export interface Encoded {
  contentType: string | null;
  body: Buffer;
}

const encodeJson = (entries: [string, JsonValue][]): Buffer => Buffer.from(jsonText(new JsonEntries(entries)), 'utf8');

/** Odd whole bodies: not JSON, not UTF-8, not an object, cut short, deep. */
export const oddJsonBody: fc.Arbitrary<Encoded> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(
        '',
        'null',
        '[]',
        '[{"prompt":"x"}]',
        '"prompt"',
        '1',
        'true',
        '{',
        '{"prompt":"x"',
        '{"prompt":"x"}garbage',
        '{"prompt":"x",}',
        "{'prompt':'x'}",
        '{"prompt":"a\u0000b"}',
        '{"prompt":"\\u0000"}',
        '{"prompt":"\\ud800"}',
        '{"prompt":"\\udfff\\ud800"}',
        '{"prompt":"x","prompt":"y"}',
        '{"prompt":"x","__proto__":{"admin":true}}',
        '{"prompt":"x","metadata":{"__proto__":{"a":1}}}',
        '{"prompt":"x","metadata":{"constructor":{"prototype":{"a":1}}}}',
        '{"prompt":"x","duration":1e309}',
        '{"prompt":"x","duration":-0}',
        '{"prompt":"x","seed":9007199254740993}',
        '{"prompt":"x","width":1E2,"height":64}',
        '{"prompt":"x","duration":NaN}',
        '{"prompt":"x","duration":Infinity}',
        '{"prompt":"x","duration":0x10}',
        '{"prompt":"x","duration":01}',
        '{"prompt":"x","n":2.0000000000000001}',
        '\ufeff{"prompt":"x"}',
        '{"prompt":"\u2028\u2029"}',
        ' \t\r\n{"prompt":"x"} \n',
      ),
      fc.integer({ min: 17, max: 20000 }).map((d) => `{"prompt":"x","metadata":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`),
      fc.integer({ min: 17, max: 20000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
      fc.integer({ min: 100, max: 20000 }).map((k) => `{"prompt":"x","metadata":{${Array.from({ length: k }, (_, i) => `"k${i}":${i}`).join(',')}}}`),
      fc.integer({ min: 1, max: 3 }).map((k) => `{"prompt":"${'p'.repeat(4000 * k + 1)}"}`),
    ),
    fc.constantFrom(...CONTENT_TYPES_JSON),
    fc.constantFrom('utf8', 'utf16le', 'latin1-bytes', 'invalid-utf8'),
  )
  .map(([text, contentType, enc]) => {
    let body: Buffer;
    if (enc === 'utf16le') body = Buffer.from(text, 'utf16le');
    else if (enc === 'latin1-bytes') body = Buffer.from(text.replace('x', 'x\u00e9\u00ff'), 'latin1');
    else if (enc === 'invalid-utf8')
      body = Buffer.concat([
        Buffer.from(text.slice(0, Math.floor(text.length / 2)), 'utf8'),
        Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff]),
        Buffer.from(text.slice(Math.floor(text.length / 2)), 'utf8'),
      ]);
    else body = Buffer.from(text, 'utf8');
    return { contentType: contentType === '' ? null : contentType, body };
  });

export type MultipartOddity =
  | 'none'
  | 'nameless-part'
  | 'huge-index'
  | 'deep-brackets'
  | 'repeat-field'
  | 'wrong-boundary'
  | 'truncated'
  | 'no-final-boundary'
  | 'file-in-text-field'
  | 'two-files'
  | 'odd-filename'
  | 'long-name'
  | 'odd-brackets'
  | 'no-boundary-param'
  | 'empty-boundary'
  | 'preamble'
  | 'lf-only'
  | 'prototype-bracket'
  | 'array-field';

export const multipartOddity = fc.constantFrom<MultipartOddity>(
  'none',
  'none',
  'none',
  'nameless-part',
  'huge-index',
  'deep-brackets',
  'repeat-field',
  'wrong-boundary',
  'truncated',
  'no-final-boundary',
  'file-in-text-field',
  'two-files',
  'odd-filename',
  'long-name',
  'odd-brackets',
  'no-boundary-param',
  'empty-boundary',
  'preamble',
  'lf-only',
  'prototype-bracket',
  'array-field',
);

export interface Part {
  name: string | null;
  value: Buffer;
  filename?: string;
  contentType?: string;
}

/** The form fields of a create: nested values in bracket notation or (metadata) as JSON text. */
function formParts(entries: [string, JsonValue][], bracketMetadata: boolean): Part[] {
  const parts: Part[] = [];
  for (const [k, v] of entries) {
    if (
      k === 'input_reference' &&
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      !(v instanceof RawJson) &&
      !(v instanceof JsonEntries) &&
      'image_url' in v
    ) {
      parts.push({ name: 'input_reference[image_url]', value: Buffer.from(formText(v.image_url as JsonValue)) });
    } else if (
      k === 'metadata' &&
      bracketMetadata &&
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      !(v instanceof RawJson) &&
      !(v instanceof JsonEntries)
    ) {
      for (const [mk, mv] of Object.entries(v)) parts.push({ name: `metadata[${mk}]`, value: Buffer.from(formText(mv)) });
    } else {
      parts.push({ name: k, value: Buffer.from(formText(v), 'utf8') });
    }
  }
  return parts;
}

export function encodeMultipart(parts: Part[], oddity: MultipartOddity, boundary = 'fuzzBoundary7MA4YWxkTrZu0gW'): Encoded {
  const eol = oddity === 'lf-only' ? '\n' : '\r\n';
  const all = [...parts];
  switch (oddity) {
    case 'nameless-part':
      all.push({ name: null, value: Buffer.from('nameless') });
      break;
    case 'huge-index':
      all.push({ name: 'metadata[a][150000000]', value: Buffer.from('1') });
      break;
    case 'deep-brackets':
      all.push({ name: `metadata${'[a]'.repeat(12)}`, value: Buffer.from('1') });
      break;
    case 'repeat-field':
      if (all[0]) all.push(all[0]);
      break;
    case 'file-in-text-field':
      all.push({ name: 'prompt_file', value: IMAGES.validPng, filename: 'a.png', contentType: 'image/png' });
      break;
    case 'two-files':
      all.push({ name: 'input_reference', value: IMAGES.validPng, filename: 'a.png', contentType: 'image/png' });
      all.push({ name: 'input_reference', value: IMAGES.validPng, filename: 'b.png', contentType: 'image/png' });
      break;
    case 'odd-filename':
      all.push({ name: 'input_reference', value: IMAGES.validPng, filename: '../../\u0000"x\r\n.png', contentType: 'image/png; charset=utf-16' });
      break;
    case 'long-name':
      all.push({ name: 'n'.repeat(300), value: Buffer.from('1') });
      break;
    case 'odd-brackets':
      all.push({ name: 'metadata]][[a]', value: Buffer.from('1') });
      all.push({ name: 'metadata[', value: Buffer.from('2') });
      break;
    case 'prototype-bracket':
      all.push({ name: 'metadata[__proto__][polluted]', value: Buffer.from('1') });
      break;
    case 'array-field':
      all.push({ name: 'metadata[tags][]', value: Buffer.from('a') });
      all.push({ name: 'metadata[tags][]', value: Buffer.from('b') });
      break;
  }
  const chunks: Buffer[] = [];
  if (oddity === 'preamble') chunks.push(Buffer.from(`this is a preamble${eol}`));
  for (const p of all) {
    const disp =
      p.name === null ? 'form-data' : `form-data; name="${p.name.replace(/"/g, '%22')}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(
      Buffer.from(`--${boundary}${eol}Content-Disposition: ${disp}${eol}${p.contentType ? `Content-Type: ${p.contentType}${eol}` : ''}${eol}`, 'utf8'),
      p.value,
      Buffer.from(eol),
    );
  }
  if (oddity !== 'no-final-boundary') chunks.push(Buffer.from(`--${boundary}--${eol}`));
  let body = Buffer.concat(chunks);
  if (oddity === 'truncated') body = body.subarray(0, Math.max(1, Math.floor(body.length / 2)));
  let contentType = `multipart/form-data; boundary=${boundary}`;
  if (oddity === 'wrong-boundary') contentType = 'multipart/form-data; boundary=not-the-boundary';
  if (oddity === 'no-boundary-param') contentType = 'multipart/form-data';
  if (oddity === 'empty-boundary') contentType = 'multipart/form-data; boundary=';
  return { contentType, body };
}

/** Multipart oddities that still leave a 400 about one nameable field. */
const ODDITY_FIELD: Partial<Record<MultipartOddity, (parts: Part[]) => string | undefined>> = {
  'repeat-field': (parts) => parts[0]?.name?.split('[')[0],
  'deep-brackets': () => 'metadata',
  'prototype-bracket': () => 'metadata',
};

const IDEMPOTENCY_KEYS = ['fz-k1', 'fz-k2', 'fz-k3', 'fz-k4', 'fz-k5', 'fz-k6'];
const idempotencyKey = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | null>(null) },
  { weight: 3, arbitrary: fc.constantFrom(...IDEMPOTENCY_KEYS) },
  { weight: 1, arbitrary: fc.constant('deleted') },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'a b', 'k\u00e9y', 'k\u0001', 'x'.repeat(300), 'k\u007f', '"quoted"', 'k,l') },
);

function createPlan(models: ModelInfo[]): fc.Arbitrary<Plan> {
  return fc
    .record({
      valid: validCreate(models),
      mutation,
      multipart: fc.nat({ max: 3 }),
      bracketMetadata: fc.boolean(),
      oddity: multipartOddity,
      upload: sometimes(imageName, 25),
      jsonType: fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES_JSON) }),
      idem: idempotencyKey,
      auth: fc.constantFrom<Auth>('owner', 'owner', 'owner', 'owner', 'owner', 'owner', 'other', 'none', 'garbage'),
      oddAuth: sometimes(oddAuthorization, 5),
    })
    .map((r): Plan => ({
      route: 'POST /v1/videos',
      build(w) {
        const body = applyMutation(r.valid, r.mutation);
        let encoded: Encoded;
        let field = body.field;
        const asMultipart = r.multipart === 0;
        if (asMultipart) {
          const parts = formParts(body.entries, r.bracketMetadata);
          if (r.upload && !parts.some((p) => p.name === 'image' || p.name?.startsWith('input_reference'))) {
            parts.push({ name: 'input_reference', value: IMAGES[r.upload], filename: 'ref.png', contentType: 'image/png' });
            field ??= r.upload === 'validPng' ? undefined : 'input_reference';
          }
          encoded = encodeMultipart(parts, r.oddity);
          // Multipart carries text only: a changed value may now be valid text; only structural 400s are predictable.
          // An oddity on top of a changed field makes two problems: either may be the one reported.
          if (r.oddity !== 'none') field = r.mutation.kind === 'none' ? ODDITY_FIELD[r.oddity]?.(parts) : undefined;
          else if (r.mutation.kind === 'set' || r.mutation.kind === 'prototype' || r.mutation.kind === 'duplicate') field = undefined;
          // Bracket and dot characters in a form name are notation, not part of the name.
          else if (r.mutation.kind === 'unknown' && !/^[A-Za-z0-9_ -]+$/.test(r.mutation.key)) field = undefined;
        } else {
          encoded = { contentType: r.jsonType, body: encodeJson(body.entries) };
          if (r.jsonType !== 'application/json') field = undefined;
        }
        const headers = authHeader(w, r.auth);
        if (r.oddAuth) headers.splice(0, headers.length, ['Authorization', r.oddAuth]);
        if (encoded.contentType !== null) headers.push(['Content-Type', encoded.contentType]);
        let key: string | undefined;
        if (r.idem !== null) {
          key = r.idem === 'deleted' ? w.deletedIdempotencyKey : r.idem;
          headers.push(['Idempotency-Key', key]);
        }
        const creates = r.oddAuth ? undefined : r.auth === 'owner' ? 'owner' : r.auth === 'other' ? 'other' : undefined;
        // A malformed Idempotency-Key (the documented rule: 1-255 visible ASCII characters) is a second problem.
        if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) field = undefined;
        // model: null means "the default model", whose limits other fields may then miss.
        if (r.mutation.kind === 'set' && r.mutation.field === 'model' && r.mutation.value === null) field = undefined;
        return {
          req: { method: 'POST', path: '/v1/videos', headers, body: encoded.body },
          expect: { creates, field: r.auth === 'owner' && !r.oddAuth ? field : undefined, idempotencyKey: key, renderable: body.renderable },
        };
      },
    }));
}

const oddCreatePlan: fc.Arbitrary<Plan> = fc.tuple(oddJsonBody, fc.constantFrom<Auth>('owner', 'owner', 'other')).map(([enc, auth]) => ({
  route: 'POST /v1/videos',
  build(w) {
    const headers = authHeader(w, auth);
    if (enc.contentType !== null) headers.push(['Content-Type', enc.contentType]);
    return {
      req: { method: 'POST', path: '/v1/videos', headers, body: enc.body },
      expect: { creates: auth === 'owner' ? 'owner' : 'other', renderable: false },
    };
  },
}));

/** Creates from the OpenAPI schema alone (values of the right type, rarely within a model's limits). */
function schemaCreatePlan(doc: OpenApi): fc.Arbitrary<Plan> {
  const schemas = doc.components.schemas;
  const json = arbitraryFor(schemas.CreateVideoRequest!, schemas);
  const multipart = arbitraryFor(schemas.CreateVideoMultipartRequest!, schemas);
  return fc.tuple(fc.boolean(), json, multipart).map(([asForm, j, m]) => ({
    route: 'POST /v1/videos',
    build(w) {
      const headers = authHeader(w, 'owner');
      let enc: Encoded;
      if (asForm && m && typeof m === 'object' && !Array.isArray(m) && !(m instanceof RawJson) && !(m instanceof JsonEntries)) {
        enc = encodeMultipart(formParts(Object.entries(m), false), 'none');
      } else {
        enc = { contentType: 'application/json', body: Buffer.from(jsonText(j), 'utf8') };
      }
      headers.push(['Content-Type', enc.contentType!]);
      return { req: { method: 'POST', path: '/v1/videos', headers, body: enc.body }, expect: { creates: 'owner', renderable: false } };
    },
  }));
}

/** Many creates at once with one Idempotency-Key and different bodies: one task, the rest 409s. */
function burstPlan(models: ModelInfo[]): fc.Arbitrary<Plan> {
  return fc.tuple(validCreate(models), fc.integer({ min: 5, max: 20 })).map(([valid, size]) => ({
    route: 'POST /v1/videos (burst)',
    burst: size,
    build(w) {
      const key = `fz-burst-${w.seq}-${Math.floor(w.seq / 1000)}`;
      const body = { ...valid.body, prompt: `burst ${w.seq}` };
      return {
        req: {
          method: 'POST',
          path: '/v1/videos',
          headers: [...authHeader(w, 'owner'), ['Content-Type', 'application/json'], ['Idempotency-Key', key]],
          body: Buffer.from(JSON.stringify(body)),
        },
        expect: { creates: 'owner', idempotencyKey: key, renderable: valid.renderable },
      };
    },
  }));
}

// --- Id routes ---------------------------------------------------------------------------------

const RANGES = [
  'bytes=0-0',
  'bytes=-1',
  'bytes=0-',
  'bytes=5-1',
  'bytes=99999999-',
  'bytes=0-1,2-3',
  'bytes=0-1,0-1',
  'bytes=a-b',
  'items=0-1',
  'bytes=-0',
  'bytes= 0-1',
  `bytes=${'0-1,'.repeat(2000)}0-1`,
  'bytes=00000000000000000000001-2',
  'bytes=1e3-2e3',
  'bytes=9007199254740993-',
  'bytes=-9007199254740993',
  'bytes=0-1\u00e9',
  'bytes',
  'bytes=--1',
  'bytes=1-2-3',
  '',
];

function idRoutePlan(): fc.Arbitrary<Plan> {
  return fc
    .record({
      op: fc.constantFrom('get', 'head', 'delete', 'content', 'content-head', 'remix', 'signed'),
      id: idRef,
      asOther: fc.nat({ max: 4 }),
      range: sometimes(fc.constantFrom(...RANGES), 50),
      ifRange: sometimes(fc.constantFrom('etag', '"wrong"', 'Wed, 21 Oct 2015 07:28:00 GMT', 'garbage', 'W/"x"', ''), 30),
      ifNoneMatch: sometimes(fc.constantFrom('etag', '*', '"x", "y"', 'garbage'), 20),
      variant: sometimes(fc.oneof(fc.constantFrom('video', 'thumbnail', 'spritesheet', 'VIDEO', ''), hostileString), 35),
      index: sometimes(fc.oneof(fc.constantFrom('0', '1', '-1', '1e3', ' 0 ', '00', '9999999999999999999', '0x0', '0.0'), hostileString), 35),
      remixBody: fc.oneof(
        fc.record({ prompt: validPrompt }) as fc.Arbitrary<JsonValue>,
        fc.record({ prompt: hostileValue }) as fc.Arbitrary<JsonValue>,
        hostileValue,
        fc.record({ prompt: validPrompt, model: fc.constant('tiny') }) as fc.Arbitrary<JsonValue>,
      ),
      signature: fc.tuple(hostileString, fc.oneof(fc.constantFrom('1', '99999999999', '-1', '1e10', ''), hostileString)),
      repeatQuery: fc.boolean(),
    })
    .map((r): Plan => {
      const route = {
        get: 'GET /v1/videos/{id}',
        head: 'HEAD /v1/videos/{id}',
        delete: 'DELETE /v1/videos/{id}',
        content: 'GET /v1/videos/{id}/content',
        'content-head': 'HEAD /v1/videos/{id}/content',
        remix: 'POST /v1/videos/{id}/remix',
        signed: 'GET /v1/videos/{id}/content (signed)',
      }[r.op]!;
      return {
        route,
        build(w) {
          const id = idText(w, r.id);
          // Tenant 2 asks for tenant 1's video now and then, and the other way round.
          const auth: Auth = r.asOther === 0 ? (id.owner === 'owner' ? 'other' : 'owner') : id.owner === 'other' ? 'other' : 'owner';
          const cross = id.owner !== null && (auth === 'other') !== (id.owner === 'other');
          const headers = r.op === 'signed' ? [] : authHeader(w, auth);
          const q = new URLSearchParams();
          if (r.variant !== undefined) q.append('variant', r.variant);
          if (r.index !== undefined) q.append('index', r.index);
          if (r.repeatQuery && r.variant !== undefined) q.append('variant', 'video');
          let method = 'GET';
          let path = `/v1/videos/${id.text}`;
          let body: Buffer | null = null;
          switch (r.op) {
            case 'head':
              method = 'HEAD';
              break;
            case 'delete':
              method = 'DELETE';
              break;
            case 'content':
            case 'content-head':
            case 'signed':
              if (r.op === 'content-head') method = 'HEAD';
              if (r.op === 'signed') {
                q.append('signature', r.signature[0]);
                q.append('expires', r.signature[1]);
              }
              path += `/content${q.size ? `?${q}` : ''}`;
              if (r.range !== undefined) headers.push(['Range', latin1Path(r.range)]);
              if (r.ifRange !== undefined) headers.push(['If-Range', r.ifRange === 'etag' ? w.completedEtag : r.ifRange]);
              if (r.ifNoneMatch !== undefined) headers.push(['If-None-Match', r.ifNoneMatch === 'etag' ? w.completedEtag : r.ifNoneMatch]);
              break;
            case 'remix':
              method = 'POST';
              path += '/remix';
              body = Buffer.from(jsonText(r.remixBody), 'utf8');
              headers.push(['Content-Type', 'application/json']);
              break;
          }
          return {
            req: { method, path, headers, body },
            expect: {
              crossTenant: cross && r.op !== 'signed',
              creates: r.op === 'remix' && !cross ? (auth === 'other' ? 'other' : 'owner') : undefined,
              renderable: true,
            },
          };
        },
      };
    });
}

// --- Lists, models, usage -------------------------------------------------------------------------

function listPlan(doc: OpenApi): fc.Arbitrary<Plan> {
  const params = (doc.paths['/v1/videos']!.get!.parameters ?? []) as { name: string; schema: Record<string, unknown> }[];
  const schemas = doc.components.schemas;
  const fromSchema = fc.record(Object.fromEntries(params.map((p) => [p.name, arbitraryFor(p.schema, schemas)])), { requiredKeys: [] });
  return fc
    .record({
      q: fromSchema,
      raw: fc.option(
        fc.constantFrom(
          'limit=1&limit=2',
          'limit[]=1',
          'limit[a][b][c][d][e][f][g]=1',
          'a[__proto__][x]=1',
          '__proto__[x]=1',
          '__proto__=1',
          'constructor=1',
          'limit=%00',
          'order=%ff',
          '%zz=1',
          'limit=%20%205%20',
          'limit=1e3',
          'limit=0',
          'limit=101',
          'limit=-1',
          'limit=',
          '&&&',
          '=',
          'after=',
          'after=vid_%00',
          'status=queued',
          'status=in_progress',
          `user=${'u'.repeat(5000)}`,
          'model=%ed%a0%80',
          `${'a=1&'.repeat(2000)}`,
          'after=OTHER',
          'after=DELETED',
        ),
        { freq: 2, nil: undefined },
      ),
      asOther: fc.boolean(),
    })
    .map((r): Plan => ({
      route: 'GET /v1/videos',
      build(w) {
        let query: string;
        if (r.raw !== undefined) query = r.raw.replace('OTHER', pick(w.otherVideos, 0) ?? 'vid_x').replace('DELETED', w.deletedVideo);
        else {
          const q = new URLSearchParams();
          for (const [k, v] of Object.entries(r.q)) q.append(k, formText(v as JsonValue));
          query = q.toString();
        }
        const auth: Auth = r.asOther ? 'other' : 'owner';
        return { req: { method: 'GET', path: `/v1/videos${query ? `?${query}` : ''}`, headers: authHeader(w, auth), body: null }, expect: { lists: auth } };
      },
    }));
}

const dayText = fc.oneof(
  fc.constantFrom(
    '2026-01-01',
    '1970-01-01',
    '0000-01-01',
    '2026-02-31',
    '99999-01-01',
    '2026-1-1',
    '2026-01-01T00:00:00Z',
    'today',
    '',
    '1e3',
    '-2026-01-01',
    '9998-12-31',
    '9999-12-31',
    '1969-12-31',
    '2026-13-01',
  ),
  hostileString,
  fc.date({ min: new Date('1900-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
);

const usagePlan: fc.Arbitrary<Plan> = fc
  .record({
    from: fc.option(dayText, { nil: undefined }),
    to: fc.option(dayText, { nil: undefined }),
    admin: fc.nat({ max: 3 }),
    keyId: fc.option(fc.oneof(fc.constant('SPARE'), hostileString), { nil: undefined }),
  })
  .map((r): Plan => ({
    route: r.admin === 0 ? 'GET /admin/v1/usage' : 'GET /v1/usage',
    build(w) {
      const q = new URLSearchParams();
      if (r.from !== undefined) q.append('from', r.from);
      if (r.to !== undefined) q.append('to', r.to);
      if (r.admin === 0 && r.keyId !== undefined) q.append('api_key_id', r.keyId === 'SPARE' ? w.spareKeyId : r.keyId);
      const base = r.admin === 0 ? '/admin/v1/usage' : '/v1/usage';
      return {
        req: { method: 'GET', path: `${base}${q.size ? `?${q}` : ''}`, headers: authHeader(w, r.admin === 0 ? 'admin' : 'owner'), body: null },
        expect: {},
      };
    },
  }));

const modelsPlan: fc.Arbitrary<Plan> = fc
  .tuple(
    fc.option(fc.oneof(fc.constantFrom('tiny', 'sora-2', 'sora-1.0', 'SORA-2', 'tiny%00', '..'), hostileString), { nil: undefined }),
    fc.boolean(),
    fc.constantFrom<Auth>('owner', 'other', 'none', 'garbage'),
  )
  .map(([id, encode, auth]): Plan => ({
    route: id === undefined ? 'GET /v1/models' : 'GET /v1/models/{id}',
    build(w) {
      const path = id === undefined ? '/v1/models' : `/v1/models/${encode ? pctEncode(id) : latin1Path(id)}`;
      return { req: { method: 'GET', path, headers: authHeader(w, auth), body: null }, expect: {} };
    },
  }));

// --- Admin ---------------------------------------------------------------------------------

const KEY_SETTINGS: Record<string, fc.Arbitrary<JsonValue>> = {
  name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== ''),
  allowed_models: fc.subarray(['tiny', 'tiny-2', 'sora-2']),
  max_concurrent: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
  max_queued: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
  rate_limit_per_minute: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null }),
  budget_micros: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: null }),
  status_dialect: fc.constantFrom('seed', 'openai', null),
  webhook_url: fc.constantFrom('https://example.invalid/hook', null),
  webhook_secret: fc.constantFrom('0123456789abcdef0123', null),
};

const adminPlan: fc.Arbitrary<Plan> = fc
  .record({
    op: fc.constantFrom('create', 'list', 'get', 'patch', 'delete', 'revoke'),
    settings: fc.record(KEY_SETTINGS, { requiredKeys: ['name'] }),
    mutate: sometimes(fc.tuple(fc.constantFrom(...Object.keys(KEY_SETTINGS), 'unknown_setting'), hostileValue), 50),
    rawBody: sometimes(oddJsonBody, 15),
    id: fc.oneof(
      { weight: 3, arbitrary: fc.constant<string | null>(null) },
      { weight: 2, arbitrary: hostileString },
      { weight: 1, arbitrary: fc.constantFrom('key_doesnotexist', 'key_', 'KEY_x', 'vid_abc') },
    ),
    encode: fc.boolean(),
    auth: fc.constantFrom<Auth>('admin', 'admin', 'admin', 'admin', 'admin', 'none', 'admin-wrong', 'owner', 'admin-basic'),
  })
  .map((r): Plan => {
    const route = {
      create: 'POST /admin/v1/keys',
      list: 'GET /admin/v1/keys',
      get: 'GET /admin/v1/keys/{id}',
      patch: 'PATCH /admin/v1/keys/{id}',
      delete: 'DELETE /admin/v1/keys/{id}',
      revoke: 'POST /admin/v1/keys/{id}/revoke',
    }[r.op]!;
    return {
      route,
      build(w) {
        // Only the spare key is ever changed: the two tenants keep their settings for the whole run.
        const id = r.id === null ? w.spareKeyId : r.encode ? pctEncode(r.id) : latin1Path(r.id);
        const headers = authHeader(w, r.auth);
        let body: Buffer | null = null;
        let field: string | undefined;
        if (r.op === 'create' || r.op === 'patch') {
          if (r.rawBody) {
            body = r.rawBody.body;
            if (r.rawBody.contentType) headers.push(['Content-Type', r.rawBody.contentType]);
          } else {
            const settings: Record<string, JsonValue> = { ...(r.settings as Record<string, JsonValue>) };
            if (r.mutate) {
              settings[r.mutate[0]] = r.mutate[1];
              field = r.mutate[0];
            }
            body = Buffer.from(jsonText(settings), 'utf8');
            headers.push(['Content-Type', 'application/json']);
          }
        }
        const path = {
          create: '/admin/v1/keys',
          list: '/admin/v1/keys',
          get: `/admin/v1/keys/${id}`,
          patch: `/admin/v1/keys/${id}`,
          delete: `/admin/v1/keys/${id}`,
          revoke: `/admin/v1/keys/${id}/revoke`,
        }[r.op]!;
        const method = { create: 'POST', list: 'GET', get: 'GET', patch: 'PATCH', delete: 'DELETE', revoke: 'POST' }[r.op]!;
        // A changed setting is what a 400 must name only when the path itself is sound.
        return { req: { method, path, headers, body }, expect: { field: r.auth === 'admin' && r.id === null ? field : undefined } };
      },
    };
  });

// --- Upstream webhooks, ops, dashboard, odd requests -----------------------------------------------

const webhookPlan: fc.Arbitrary<Plan> = fc
  .record({
    provider: fc.oneof(fc.constantFrom('preview', 'openai-compatible', 'replicate', 'fal', 'gemini-veo', 'nope'), hostileString),
    task: fc.option(idRef, { nil: undefined }),
    body: fc.oneof(
      oddJsonBody.map((e) => e.body),
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.constant(Buffer.from('{"id":"upstream_1","status":"succeeded"}')),
    ),
    sig: fc.option(
      fc.tuple(
        hostileString,
        fc.oneof(fc.constantFrom('1', '99999999999', '-1', ''), hostileString),
        fc.oneof(fc.constantFrom('v1,AAAA', 'v1,', 'v2,x'), hostileString),
      ),
      { nil: undefined },
    ),
    contentType: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', ''),
  })
  .map((r): Plan => ({
    route: r.task === undefined ? 'POST /v1/upstream-webhooks/{provider}' : 'POST /v1/upstream-webhooks/{provider}/{taskId}',
    build(w) {
      const provider = pctEncode(r.provider);
      const path = r.task === undefined ? `/v1/upstream-webhooks/${provider}` : `/v1/upstream-webhooks/${provider}/${idText(w, r.task).text}`;
      const headers: [string, string][] = [];
      if (r.contentType) headers.push(['Content-Type', r.contentType]);
      if (r.sig) {
        headers.push(['webhook-id', latin1Path(r.sig[0])], ['webhook-timestamp', latin1Path(r.sig[1])], ['webhook-signature', latin1Path(r.sig[2])]);
        headers.push(['x-fal-webhook-signature', latin1Path(r.sig[2])], ['x-goog-signature', latin1Path(r.sig[2])]);
      }
      return { req: { method: 'POST', path, headers, body: r.body }, expect: {} };
    },
  }));

const opsPlan: fc.Arbitrary<Plan> = fc
  .tuple(
    fc.constantFrom(
      '/healthz',
      '/readyz',
      '/metrics',
      '/openapi.json',
      '/docs',
      '/docs/',
      '/docs/init.js',
      '/docs/assets/swagger-ui.css',
      '/docs/assets/../../package.json',
      '/docs/assets/%2e%2e/%2e%2e/package.json',
      '/docs/assets/%00',
      '/docs/assets/',
      '/docs/assets/nope.js',
      '/healthz?x=%00',
      '/metrics?name[]=x',
      '/readyz/',
      '/HEALTHZ',
    ),
    fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'OPTIONS', 'DELETE'),
  )
  .map(([path, method]): Plan => ({
    route: `${method} ${path.split('?')[0]}`,
    build: () => ({ req: { method, path, headers: [], body: method === 'POST' ? Buffer.from('{}') : null }, expect: {} }),
  }));

const DASHBOARD_ROUTES: [string, string][] = [
  ['GET', '/admin/queues'],
  ['GET', '/admin/queues/'],
  ['GET', '/admin/queues/queue/{queue}'],
  ['GET', '/admin/queues/api/queues'],
  ['GET', '/admin/queues/api/redis/stats'],
  ['GET', '/admin/queues/api/job-schedulers'],
  ['GET', '/admin/queues/api/metrics/latency'],
  ['GET', '/admin/queues/api/queues/{queue}/metrics'],
  ['GET', '/admin/queues/api/queues/{queue}/workers'],
  ['GET', '/admin/queues/api/queues/{queue}/rate-limit'],
  ['GET', '/admin/queues/api/queues/{queue}/default-job-options'],
  ['GET', '/admin/queues/api/queues/{queue}/job-data-schema'],
  ['GET', '/admin/queues/api/queues/{queue}/{job}'],
  ['GET', '/admin/queues/api/queues/{queue}/{job}/logs'],
  ['GET', '/admin/queues/api/queues/{queue}/{job}/flow'],
  ['PUT', '/admin/queues/api/queues/{queue}/{job}/retry'],
  ['PUT', '/admin/queues/api/queues/{queue}/{job}/promote'],
  ['PUT', '/admin/queues/api/queues/{queue}/{job}/clean'],
  ['PUT', '/admin/queues/api/queues/{queue}/retry/{status}'],
  ['PUT', '/admin/queues/api/queues/{queue}/clean/{status}'],
  ['PUT', '/admin/queues/api/queues/{queue}/pause'],
  ['PUT', '/admin/queues/api/queues/{queue}/empty'],
  ['PUT', '/admin/queues/api/queues/{queue}/obliterate'],
  ['POST', '/admin/queues/api/queues/{queue}/add'],
  ['PATCH', '/admin/queues/api/queues/{queue}/{job}/update-data'],
  ['PUT', '/admin/queues/api/queues/pause'],
  ['GET', '/admin/queues/api/nope'],
  ['GET', '/admin/queues/static/nope.js'],
];

const dashboardPlan: fc.Arbitrary<Plan> = fc
  .record({
    route: fc.constantFrom(...DASHBOARD_ROUTES),
    queue: fc.oneof(
      fc.nat().map((i) => ({ real: i })),
      hostileString.map((s) => ({ text: s })),
    ),
    job: fc.oneof(idRef, fc.constantFrom({ kind: 'raw' as const, text: 'repeat:x', encode: true })),
    status: fc.oneof(fc.constantFrom('failed', 'completed', 'delayed', 'waiting', 'active', 'latest'), hostileString),
    query: fc.option(
      fc.constantFrom(
        'activeQueue=video-tasks&status=latest&page=1&jobsPerPage=10',
        'page=-1',
        'page=1e309',
        'jobsPerPage=999999999',
        'status=%00',
        'activeQueue[]=a',
        'page=abc&jobsPerPage=-0',
        'query=%ff',
      ),
      { nil: undefined },
    ),
    body: sometimes(oddJsonBody, 40),
    auth: fc.constantFrom<Auth>('admin', 'admin', 'admin', 'admin-basic', 'none', 'admin-wrong'),
  })
  .map((r): Plan => ({
    route: `${r.route[0]} ${r.route[1]}`,
    build(w) {
      const queue = 'real' in r.queue ? w.queueNames[r.queue.real % w.queueNames.length]! : pctEncode(r.queue.text);
      const path =
        r.route[1].replace('{queue}', queue).replace('{job}', idText(w, r.job).text).replace('{status}', pctEncode(r.status)) + (r.query ? `?${r.query}` : '');
      const headers = authHeader(w, r.auth);
      let body: Buffer | null = null;
      if (r.route[0] !== 'GET') {
        body = r.body?.body ?? Buffer.from('{}');
        headers.push(['Content-Type', r.body?.contentType ?? 'application/json']);
      }
      return { req: { method: r.route[0], path, headers, body }, expect: {} };
    },
  }));

/** Requests Node's HTTP parser sees first: bad header bytes, oversized headers, odd methods and targets. */
const oddHttpPlan: fc.Arbitrary<Plan> = fc
  .oneof(
    fc.constantFrom(
      { method: 'GET', path: '/v1/models', headers: [['X-Bad', 'a\u0001b']] as [string, string][] },
      { method: 'GET', path: '/v1/models', headers: [['X Bad Name', '1']] as [string, string][] },
      { method: 'GET', path: '/v1/models', headers: [['X-Fold', 'a\r\n folded']] as [string, string][] },
      { method: 'GET', path: '/healthz', headers: [['X-Big', 'b'.repeat(20_000)]] as [string, string][] },
      { method: 'GET', path: `/v1/videos/${'x'.repeat(20_000)}`, headers: [] as [string, string][] },
      { method: 'GET', path: '/healthz', headers: Array.from({ length: 3000 }, (_, i) => [`X-H${i}`, 'v']) as [string, string][] },
      { method: 'GET', path: '/v1/models', headers: [['Content-Length', '-1']] as [string, string][] },
      {
        method: 'POST',
        path: '/v1/videos',
        headers: [
          ['Content-Length', '5'],
          ['Transfer-Encoding', 'chunked'],
        ] as [string, string][],
        body: '0\r\n\r\n',
      },
      {
        method: 'POST',
        path: '/v1/videos',
        headers: [
          ['Transfer-Encoding', 'chunked'],
          ['Content-Type', 'application/json'],
        ] as [string, string][],
        body: 'zz\r\n{}\r\n0\r\n\r\n',
      },
      {
        method: 'POST',
        path: '/v1/videos',
        headers: [
          ['Transfer-Encoding', 'gzip, chunked'],
          ['Content-Type', 'application/json'],
        ] as [string, string][],
        body: '2\r\n{}\r\n0\r\n\r\n',
      },
      {
        method: 'POST',
        path: '/v1/videos',
        headers: [
          ['Content-Length', '2'],
          ['Content-Length', '3'],
          ['Content-Type', 'application/json'],
        ] as [string, string][],
        body: '{}',
      },
      {
        method: 'POST',
        path: '/v1/videos',
        headers: [
          ['Content-Type', 'application/json'],
          ['Content-Encoding', 'gzip'],
        ] as [string, string][],
        body: '{"prompt":"x"}',
      },
      {
        method: 'POST',
        path: '/v1/videos',
        headers: [
          ['Content-Type', 'application/json'],
          ['Content-Encoding', 'br'],
        ] as [string, string][],
        body: '{"prompt":"x"}',
      },
      {
        method: 'POST',
        path: '/v1/videos',
        headers: [
          ['Expect', '100-continue'],
          ['Content-Type', 'application/json'],
        ] as [string, string][],
        body: '{"prompt":"x"}',
      },
      { method: 'GET', path: '/v1/models', headers: [['Expect', 'something-else']] as [string, string][] },
      {
        method: 'GET',
        path: '/v1/models',
        headers: [
          ['Upgrade', 'websocket'],
          ['Connection', 'Upgrade'],
        ] as [string, string][],
      },
      { method: 'CONNECT', path: '127.0.0.1:80', headers: [] as [string, string][] },
      { method: 'OPTIONS', path: '*', headers: [] as [string, string][] },
      { method: 'GET', path: 'http://127.0.0.1/healthz', headers: [] as [string, string][] },
      { method: 'GET', path: '//healthz', headers: [] as [string, string][] },
      { method: 'GET', path: '/v1//videos', headers: [] as [string, string][] },
      { method: 'GET', path: '/v1/videos/../models', headers: [] as [string, string][] },
      { method: 'GET', path: '/%', headers: [] as [string, string][] },
      { method: 'GET', path: '/v1/videos/%E0%A4%A', headers: [] as [string, string][] },
      { method: 'GET', path: '/v1/\u00ff\u00fe', headers: [] as [string, string][] },
      { method: 'GET', path: 'noslash', headers: [] as [string, string][] },
      { method: 'get', path: '/healthz', headers: [] as [string, string][] },
      { method: 'TRACE', path: '/v1/videos', headers: [] as [string, string][] },
      { method: 'PROPFIND', path: '/v1/videos', headers: [] as [string, string][] },
      { method: 'PUT', path: '/v1/videos', headers: [] as [string, string][] },
      { method: 'PATCH', path: '/v1/videos/vid_x', headers: [] as [string, string][] },
      { method: 'BREW', path: '/v1/videos', headers: [] as [string, string][] },
      {
        method: 'GET',
        path: '/v1/videos',
        headers: [
          ['Authorization', 'Bearer a'],
          ['Authorization', 'Bearer b'],
        ] as [string, string][],
      },
      { method: 'GET', path: '/v1/models', headers: [['X-Request-Id', '\u00ff'.repeat(200)]] as [string, string][] },
      { method: 'GET', path: '/v1/models', headers: [['Host', '']] as [string, string][] },
      { method: 'GET', path: '/v1/models', headers: [['Accept', 'text/html']] as [string, string][] },
      { method: 'GET', path: '/v1/models', headers: [['Accept-Encoding', 'gzip;q=1e309']] as [string, string][] },
    ),
    fc
      .tuple(hostileString, fc.constantFrom('GET', 'POST', 'DELETE', 'HEAD'))
      .map(([p, method]) => ({ method, path: `/${latin1Path(p).replace(/ /g, '%20')}`, headers: [] as [string, string][] })),
    fc
      .tuple(fc.constantFrom('/v1/videos', '/v1/models', '/v1/usage', '/admin/v1/keys'), hostileString)
      .map(([base, h]) => ({ method: 'GET', path: base, headers: [['Authorization', `Bearer ${latin1Path(h)}`]] as [string, string][] })),
  )
  .map((r): Plan => ({
    route: `${r.method} ${r.path.length > 40 ? `${r.path.slice(0, 40)}…` : r.path} (raw)`,
    build(w) {
      const withAuth = r.headers.some(([n]) => n.toLowerCase() === 'authorization') ? r.headers : [...authHeader(w, 'owner'), ...r.headers];
      // Sent as tenant 1 unless it brings its own Authorization: a create that gets through is tenant 1's task.
      const creates = r.method === 'POST' && r.path === '/v1/videos' && withAuth !== r.headers ? ('owner' as const) : undefined;
      return {
        req: { method: r.method, path: r.path, headers: withAuth, body: 'body' in r && typeof r.body === 'string' ? Buffer.from(r.body) : null },
        expect: { creates },
      };
    },
  }));

// --- Everything ---------------------------------------------------------------------------------

export interface OpenApi {
  paths: Record<string, Record<string, { parameters?: unknown[] }>>;
  components: { schemas: Record<string, Record<string, unknown>> };
  security?: Record<string, string[]>[];
}

/** Every kind of request, weighted toward the routes with the most input to get wrong. */
export function planArbitrary(doc: OpenApi, models: ModelInfo[]): fc.Arbitrary<Plan> {
  return fc.oneof(
    { weight: 30, arbitrary: createPlan(models) },
    { weight: 6, arbitrary: oddCreatePlan },
    { weight: 5, arbitrary: schemaCreatePlan(doc) },
    { weight: 1, arbitrary: burstPlan(models) },
    { weight: 20, arbitrary: idRoutePlan() },
    { weight: 6, arbitrary: listPlan(doc) },
    { weight: 3, arbitrary: usagePlan },
    { weight: 2, arbitrary: modelsPlan },
    { weight: 7, arbitrary: adminPlan },
    { weight: 4, arbitrary: webhookPlan },
    { weight: 3, arbitrary: opsPlan },
    { weight: 6, arbitrary: dashboardPlan },
    { weight: 6, arbitrary: oddHttpPlan },
  );
}

export { NASTY_STRINGS };
