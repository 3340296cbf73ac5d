import fc from 'fast-check';
import { formText, JsonEntries, jsonText, type JsonValue } from './json-text';
import {
  authHeader,
  encodeMultipart,
  latin1Path,
  multipartOddity,
  oddAuthorization,
  oddJsonBody,
  pctEncode,
  type Auth,
  type Encoded,
  type MultipartOddity,
  type OpenApi,
  type Part,
  type Plan,
  type World,
} from './requests';
import { arbitraryFor } from './schema';
import { deepValue, hostileString, hostileValue, IMAGES } from './values';

/**
 * Requests for any operation of the OpenAPI document, built from the document alone: path ids
 * from the ids the run has seen (each tenant's, made-up ones of the right prefix, hostile ones),
 * query and header parameters from their schemas, bodies from the request body schema (JSON or
 * multipart, files included) with hostile mutations, and the auth variants the security asks
 * for. A route added to the document is fuzzed from the next run on, with no code here.
 */

type Schema = Record<string, unknown>;

/** `arb` in about `percent`% of cases, else undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: percent, arbitrary: arb }, { weight: 100 - percent, arbitrary: fc.constant(undefined) });

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
  example?: unknown;
}

interface MediaType {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, { value?: unknown }>;
}

interface Operation {
  parameters?: Parameter[];
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, MediaType> };
}

export interface OperationRef {
  /** "METHOD /path/{template}", as the coverage table names it. */
  key: string;
  method: string;
  path: string;
  op: Operation;
}

/**
 * The operations the hand-written generators in requests.ts aim at. The generic generator covers
 * every operation, and those not listed here (routes added since) get the larger share of it.
 */
export const HAND_WRITTEN_OPERATIONS: ReadonlySet<string> = new Set([
  'POST /v1/videos',
  'GET /v1/videos',
  'GET /v1/videos/{video_id}',
  'DELETE /v1/videos/{video_id}',
  'GET /v1/videos/{video_id}/content',
  'POST /v1/videos/{video_id}/remix',
  'GET /v1/models',
  'GET /v1/models/{model_id}',
  'GET /v1/usage',
  'POST /admin/v1/keys',
  'GET /admin/v1/keys',
  'GET /admin/v1/keys/{key_id}',
  'PATCH /admin/v1/keys/{key_id}',
  'DELETE /admin/v1/keys/{key_id}',
  'POST /admin/v1/keys/{key_id}/revoke',
  'GET /admin/v1/usage',
  'GET /admin/queues',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'POST /v1/upstream-webhooks/{provider}',
  'POST /v1/upstream-webhooks/{provider}/{video_id}',
  'GET /openapi.json',
  'GET /docs',
]);

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

export function operationsOf(doc: OpenApi): OperationRef[] {
  const out: OperationRef[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(item)) {
      if (METHODS.includes(m)) out.push({ key: `${m.toUpperCase()} ${path}`, method: m.toUpperCase(), path, op: op as Operation });
    }
  }
  return out;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Which operation a request lands on (by method and path, query ignored; HEAD counts for GET), or
 * null. The template with the most fixed segments wins: /v1/videos/characters over /v1/videos/{id}.
 */
export function operationMatcher(doc: OpenApi): (method: string, target: string) => string | null {
  const ops = operationsOf(doc)
    .map((o) => {
      const segments = o.path.split('/');
      const re = new RegExp(`^${segments.map((s) => (/^\{[^}]+\}$/.test(s) ? '[^/]+' : escapeRegExp(s))).join('/')}/?$`);
      return { key: o.key, method: o.method, re, fixed: segments.filter((s) => !s.startsWith('{')).length };
    })
    .sort((a, b) => b.fixed - a.fixed);
  return (method, target) => {
    const path = target.split('?')[0]!;
    for (const m of method === 'HEAD' ? ['HEAD', 'GET'] : [method]) {
      const hit = ops.find((o) => o.method === m && o.re.test(path));
      if (hit) return hit.key;
    }
    return null;
  };
}

/** The auth a route's security asks for (its usual one first), and the wrong ones to try. */
function authFor(doc: OpenApi, op: Operation): { primary: Auth; variants: Auth[]; tenantScoped: boolean } {
  const security = op.security ?? doc.security ?? [];
  const schemes = new Set(security.flatMap((r) => Object.keys(r)));
  const variants: Auth[] = [];
  if (schemes.has('bearerAuth')) variants.push('owner', 'owner', 'owner', 'other', 'other');
  if (schemes.has('adminToken')) variants.push('admin', 'admin', 'admin', 'admin-wrong', 'owner');
  if (schemes.has('adminBasic')) variants.push('admin-basic', 'admin-basic');
  variants.push('none', 'garbage');
  const primary: Auth = schemes.has('bearerAuth') ? 'owner' : schemes.has('adminToken') ? 'admin' : schemes.has('adminBasic') ? 'admin-basic' : 'none';
  return { primary, variants, tenantScoped: schemes.has('bearerAuth') };
}

/** The id prefix (vid_, file_, batch_…) a path parameter takes, from its schema pattern or example. */
function prefixOf(p: Parameter): string {
  const examples = [p.example, p.schema?.example, ...((p.schema?.examples as unknown[] | undefined) ?? [])];
  const pattern = typeof p.schema?.pattern === 'string' ? /^\^?([a-z][a-z0-9]*_)/.exec(p.schema.pattern)?.[1] : undefined;
  const example = examples.map((e) => (typeof e === 'string' ? /^([a-z][a-z0-9]*_)[0-9A-Za-z]/.exec(e)?.[1] : undefined)).find(Boolean);
  return pattern ?? example ?? '';
}

function exampleOf(p: Parameter): string | undefined {
  const e = p.example ?? p.schema?.example ?? (p.schema?.examples as unknown[] | undefined)?.[0] ?? (p.schema?.enum as unknown[] | undefined)?.[0];
  return e === undefined ? undefined : String(e);
}

/** Ids of one tenant that a parameter with this prefix can take. API keys: only the spare one, so the tenants' keys are never revoked or changed. */
function idsFor(w: World, tenant: 'owner' | 'other', prefix: string): string[] {
  if (prefix === 'key_') return [w.spareKeyId];
  if (!prefix) return [];
  const ids = tenant === 'owner' ? [...w.ownerVideos, ...w.learned.owner] : [...w.otherVideos, ...w.learned.other];
  return ids.filter((i) => i.startsWith(prefix));
}

type IdKind = 'own' | 'other' | 'made' | 'example' | 'hostile';
interface IdPick {
  kind: IdKind;
  n: number;
  made: string;
  hostile: string;
  encode: boolean;
}

const idPick = (wellFormed: boolean): fc.Arbitrary<IdPick> =>
  fc.record({
    kind: wellFormed ? fc.constant<IdKind>('own') : fc.constantFrom<IdKind>('own', 'own', 'own', 'other', 'other', 'made', 'example', 'hostile', 'hostile'),
    n: fc.nat(),
    made: fc.stringMatching(/^[0-9A-Za-z]{4,26}$/),
    hostile: hostileString,
    encode: fc.boolean(),
  });

/** A path parameter's text, and whose object it names (null: nobody's, or not known). */
function pathValue(w: World, p: Parameter, pick: IdPick): { text: string; owner: 'owner' | 'other' | null } {
  const prefix = prefixOf(p);
  const fallback = exampleOf(p) ?? `${prefix}${pick.made}`;
  switch (pick.kind) {
    case 'own':
    case 'other': {
      const ids = idsFor(w, pick.kind === 'own' ? 'owner' : 'other', prefix);
      if (ids.length === 0) return { text: pctEncode(fallback), owner: null };
      const id = ids[pick.n % ids.length]!;
      return { text: id, owner: prefix === 'key_' ? null : pick.kind === 'own' ? 'owner' : 'other' };
    }
    case 'made':
      return { text: `${prefix}${pick.made}`, owner: null };
    case 'example':
      return { text: pctEncode(fallback), owner: null };
    case 'hostile':
      return { text: pick.encode ? pctEncode(pick.hostile) : latin1Path(pick.hostile).replace(/[ ?#]/g, (c) => encodeURIComponent(c)), owner: null };
  }
}

const QUERY_ODDITIES = [
  '__proto__[x]=1',
  'constructor=1',
  'a[b][c][d][e][f][g]=1',
  '%zz=1',
  'x=%00',
  '&&&',
  '=',
  'limit[]=1',
  `x=${'y'.repeat(5000)}`,
  'unknown_param=1',
];

const NUL_STRINGS = fc.constantFrom('a\u0000b', '\u0000', '\ud800', 'x\udc00y', '\udfff\ud800');

type Mutation =
  | { kind: 'none' }
  | { kind: 'set'; field: string; value: JsonValue }
  | { kind: 'nul'; field: string; value: string }
  | { kind: 'deep'; field: string; value: JsonValue }
  | { kind: 'unknown'; key: string }
  | { kind: 'proto'; key: string }
  | { kind: 'whole'; value: JsonValue };

function mutationFor(fields: string[]): fc.Arbitrary<Mutation> {
  const field = fields.length ? fc.constantFrom(...fields) : fc.constant('field');
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), field, value: hostileValue }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('nul' as const), field, value: NUL_STRINGS }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep' as const), field, value: deepValue }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('unknown' as const), key: fc.oneof(fc.constantFrom('unknown_field', 'Name', 'id', 'object'), hostileString) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('proto' as const), key: fc.constantFrom('__proto__', 'constructor', 'prototype') }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('whole' as const), value: hostileValue }) },
  );
}

const isPlainObject = (v: unknown): v is Record<string, JsonValue> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** A body with one mutation applied, and the field a 400 must then name (when there is exactly one). */
function mutate(base: JsonValue, m: Mutation): { value: JsonValue; field?: string } {
  if (m.kind === 'whole') return { value: m.value };
  if (m.kind === 'none' || !isPlainObject(base)) return { value: base };
  const entries = Object.entries(base).filter(([k]) => m.kind === 'unknown' || m.kind === 'proto' || k !== m.field);
  switch (m.kind) {
    case 'set':
    case 'nul':
    case 'deep':
      // null may mean "the default" for a field; any other change names the field.
      return { value: new JsonEntries([...entries, [m.field, m.value]]), field: m.value === null ? undefined : m.field };
    case 'unknown':
      if (m.key in base) return { value: base };
      return { value: new JsonEntries([...entries, [m.key, 1]]), field: /^[A-Za-z0-9_]+$/.test(m.key) ? m.key : undefined };
    case 'proto':
      return { value: new JsonEntries([...entries, [m.key, { polluted: true }]]), field: m.key };
  }
}

function examplesOf(media: MediaType): JsonValue[] {
  const out: unknown[] = [];
  if (media.example !== undefined) out.push(media.example);
  for (const e of Object.values(media.examples ?? {})) if (e.value !== undefined) out.push(e.value);
  return out as JsonValue[];
}

function resolve(schema: Schema | undefined, components: Record<string, Schema>): Schema {
  let s = schema ?? {};
  for (let i = 0; i < 5 && typeof s.$ref === 'string'; i++) s = components[s.$ref.split('/').pop()!] ?? {};
  const all = s.allOf as Schema[] | undefined;
  if (all)
    s = {
      ...all
        .map((x) => resolve(x, components))
        .reduce((a, b) => ({ ...a, ...b, properties: { ...(a.properties as object), ...(b.properties as object) } }), {}),
      ...s,
      allOf: undefined,
    };
  return s;
}

const isBinary = (s: Schema): boolean =>
  s.format === 'binary' || s.contentMediaType !== undefined || (s.type === 'array' && isBinary((s.items as Schema | undefined) ?? {}));

const fileBytes = fc.oneof(
  fc.constantFrom(...Object.values(IMAGES)),
  fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
  fc.constantFrom(
    Buffer.alloc(0),
    Buffer.from('{"custom_id":"a","method":"POST","url":"/v1/videos","body":{"prompt":"x"}}\n'),
    Buffer.from('\u0000\ud800 not utf8 \xff', 'latin1'),
  ),
);
const fileName = fc.oneof(
  fc.constantFrom('a.png', 'input.jsonl', 'clip.mp4', 'a.txt', '', '../../etc/passwd', 'x\u0000.bin', 'ü ñ.txt', 'a"b.png', 'n'.repeat(300)),
  hostileString,
);
const fileType = fc.constantFrom(
  'image/png',
  'application/octet-stream',
  'application/jsonl',
  'text/plain',
  'video/mp4',
  '',
  'multipart/mixed',
  'image/png; charset=utf-16',
);

interface BodyPick {
  media: number;
  mode: 'example' | 'schema' | 'odd';
  example: number;
  mutation: Mutation;
  schemaValue: JsonValue;
  odd: Encoded;
  files: { bytes: Buffer; name: string; type: string; omit: boolean }[];
  oddity: MultipartOddity;
  wrongType: string | undefined;
}

function bodyArbitrary(doc: OpenApi, op: Operation, wellFormed: boolean): fc.Arbitrary<BodyPick> | null {
  const content = op.requestBody?.content;
  if (!content || Object.keys(content).length === 0) return null;
  const components = doc.components.schemas;
  const medias = Object.entries(content);
  const fields = new Set<string>();
  let binaries = 0;
  for (const [, m] of medias) {
    const s = resolve(m.schema, components);
    for (const [k, p] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
      fields.add(k);
      if (isBinary(resolve(p, components))) binaries++;
    }
    for (const e of examplesOf(m)) if (isPlainObject(e)) for (const k of Object.keys(e)) fields.add(k);
  }
  const schemaValues = medias.map(([, m]) => arbitraryFor(m.schema ?? {}, components));
  return fc.record({
    media: fc.nat({ max: medias.length - 1 }),
    mode: wellFormed
      ? fc.constant('example' as const)
      : fc.constantFrom('example' as const, 'example' as const, 'schema' as const, 'schema' as const, 'odd' as const),
    example: fc.nat(),
    mutation: wellFormed ? fc.constant<Mutation>({ kind: 'none' }) : mutationFor([...fields]),
    schemaValue: fc.oneof(...schemaValues),
    odd: oddJsonBody,
    files: fc.array(fc.record({ bytes: fileBytes, name: fileName, type: fileType, omit: fc.boolean() }), {
      minLength: Math.max(1, binaries),
      maxLength: Math.max(1, binaries),
    }),
    oddity: wellFormed ? fc.constant('none' as const) : multipartOddity,
    wrongType: wellFormed
      ? fc.constant(undefined)
      : sometimes(fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json', 'multipart/form-data; boundary=x', ''), 8),
  });
}

/** Whether a body refers to stored objects by id anywhere (`id` or `…_id` holding a string). */
function namesObjects(v: JsonValue): boolean {
  if (Array.isArray(v)) return v.some(namesObjects);
  if (!isPlainObject(v)) return false;
  return Object.entries(v).some(([k, x]) => ((k === 'id' || k.endsWith('_id')) && typeof x === 'string') || namesObjects(x as JsonValue));
}

/** The body of one request, its Content-Type, and the one field a 400 must name (if any). */
function buildBody(doc: OpenApi, op: Operation, pick: BodyPick): { encoded: Encoded; field?: string } {
  const components = doc.components.schemas;
  const [mediaType, media] = Object.entries(op.requestBody!.content!)[pick.media]!;
  const examples = examplesOf(media);
  const base = pick.mode === 'example' && examples.length ? examples[pick.example % examples.length]! : pick.schemaValue;
  const { value, field } = pick.mode === 'odd' ? { value: base, field: undefined } : mutate(base, pick.mutation);
  let encoded: Encoded;
  // Only a documented example is a valid request to begin with: on a schema-drawn body another field may be the one at fault.
  // Nor is one that names objects (`id`, `…_id`): the document's ids are made up, so that field may be the one refused.
  let named = pick.mode === 'example' && examples.length > 0 && !namesObjects(base) ? field : undefined;
  if (/multipart\/form-data/i.test(mediaType)) {
    const schema = resolve(media.schema, components);
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    const parts: Part[] = [];
    const entries = value instanceof JsonEntries ? value.entries : isPlainObject(value) ? Object.entries(value) : [['value', value] as [string, JsonValue]];
    for (const [k, v] of entries) if (!isBinary(resolve(props[k], components))) parts.push({ name: k, value: Buffer.from(formText(v), 'utf8') });
    let fileIndex = 0;
    for (const [k, p] of Object.entries(props)) {
      if (!isBinary(resolve(p, components))) continue;
      const f = pick.files[fileIndex++ % pick.files.length]!;
      if (f.omit && pick.mode !== 'example') continue;
      parts.push({ name: k, value: f.bytes, filename: f.name, contentType: f.type || undefined });
    }
    encoded = encodeMultipart(parts, pick.oddity);
    // Form fields are text: a changed value may be valid text, so only an unknown field's 400 is predictable.
    if (pick.oddity !== 'none' || pick.mutation.kind !== 'unknown') named = undefined;
  } else if (/json/i.test(mediaType)) {
    encoded = pick.mode === 'odd' ? pick.odd : { contentType: mediaType, body: Buffer.from(jsonText(value), 'utf8') };
    if (pick.mode === 'odd') named = undefined;
  } else {
    encoded = { contentType: mediaType, body: pick.files[0]?.bytes ?? Buffer.alloc(0) };
    named = undefined;
  }
  if (pick.wrongType !== undefined) {
    encoded = { contentType: pick.wrongType || null, body: encoded.body };
    named = undefined;
  }
  return { encoded, field: named };
}

function operationPlan(doc: OpenApi, o: OperationRef, wellFormed: boolean): fc.Arbitrary<Plan> {
  const params = [...((doc.paths[o.path] as { parameters?: Parameter[] }).parameters ?? []), ...(o.op.parameters ?? [])];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const headerParams = params.filter((p) => p.in === 'header');
  const components = doc.components.schemas;
  const auth = authFor(doc, o.op);
  const paramValue = (p: Parameter) => fc.oneof({ weight: 4, arbitrary: arbitraryFor(p.schema ?? {}, components) }, { weight: 1, arbitrary: hostileValue });
  const optional = (p: Parameter, percent: number) => (p.required ? paramValue(p) : sometimes(paramValue(p), percent));
  const body = bodyArbitrary(doc, o.op, wellFormed);
  return fc
    .record({
      auth: wellFormed ? fc.constant(auth.primary) : fc.constantFrom(...auth.variants),
      oddAuth: wellFormed ? fc.constant(undefined) : sometimes(oddAuthorization, 5),
      ids: fc.tuple(...pathParams.map(() => idPick(wellFormed))),
      query: wellFormed ? fc.constant(queryParams.map(() => undefined)) : fc.tuple(...queryParams.map((p) => optional(p, 40))),
      // One query parameter set to a hostile value on an otherwise sound request: a 400 must name it.
      single: wellFormed || queryParams.length === 0 ? fc.constant(undefined) : sometimes(fc.tuple(fc.nat({ max: queryParams.length - 1 }), hostileValue), 30),
      queryOddity: wellFormed ? fc.constant(undefined) : sometimes(fc.constantFrom(...QUERY_ODDITIES), 10),
      headers: wellFormed ? fc.constant(headerParams.map(() => undefined)) : fc.tuple(...headerParams.map((p) => optional(p, 30))),
      body: body ?? fc.constant(null),
    })
    .map((r): Plan => ({
      route: `${o.key} (generic)`,
      build(w: World) {
        let path = o.path;
        let crossTenant = false;
        let soundIds = true;
        const tenant = r.oddAuth ? null : r.auth === 'owner' ? 'owner' : r.auth === 'other' ? 'other' : null;
        pathParams.forEach((p, i) => {
          const v = pathValue(w, p, r.ids[i]!);
          path = path.replace(`{${p.name}}`, v.text);
          if (auth.tenantScoped && tenant && v.owner && v.owner !== tenant) crossTenant = true;
          if (r.ids[i]!.kind !== 'own' || (v.owner === null && prefixOf(p) !== '' && prefixOf(p) !== 'key_')) soundIds = false;
        });
        const q: string[] = [];
        let field: string | undefined;
        if (r.single) {
          const p = queryParams[r.single[0]]!;
          q.push(`${encodeURIComponent(p.name)}=${pctEncode(formText(r.single[1]))}`);
          field = p.name;
        } else {
          queryParams.forEach((p, i) => {
            const v = r.query[i];
            if (v !== undefined) q.push(`${encodeURIComponent(p.name)}=${pctEncode(formText(v))}`);
          });
        }
        if (r.queryOddity) q.push(r.queryOddity);
        const headers = authHeader(w, r.auth);
        if (r.oddAuth) headers.splice(0, headers.length, ['Authorization', r.oddAuth]);
        headerParams.forEach((p, i) => {
          const v = r.headers[i];
          if (v !== undefined && p.name.toLowerCase() !== 'authorization') headers.push([p.name, latin1Path(formText(v))]);
        });
        let payload: Buffer | null = null;
        if (r.body) {
          const b = buildBody(doc, o.op, r.body);
          payload = b.encoded.body;
          if (b.encoded.contentType !== null) headers.push(['Content-Type', b.encoded.contentType]);
          // Two changes at once (a query parameter and a body field): either may be the one reported.
          field = field === undefined ? b.field : undefined;
        }
        if (r.queryOddity || r.headers.some((h) => h !== undefined)) field = undefined;
        const sound = r.auth === auth.primary && !r.oddAuth && soundIds;
        return {
          req: { method: o.method, path: `${path}${q.length ? `?${q.join('&')}` : ''}`, headers, body: payload },
          expect: {
            crossTenant,
            field: sound ? field : undefined,
            creates: tenant ?? undefined,
            lists: o.method === 'GET' && tenant ? tenant : undefined,
            renderable: false,
          },
        };
      },
    }));
}

/** Generic requests over every operation; the ones no hand-written generator covers weigh six times more. */
export function genericPlan(doc: OpenApi): fc.Arbitrary<Plan> {
  return fc.oneof(...operationsOf(doc).map((o) => ({ weight: HAND_WRITTEN_OPERATIONS.has(o.key) ? 1 : 6, arbitrary: operationPlan(doc, o, false) })));
}

/**
 * A few requests for each operation, sent whatever the sample draws, so no operation can go
 * unfuzzed: one well-formed (the usual auth, the tenant's own ids, an example body) and
 * `perOperation - 1` random ones.
 */
export function sweepPlans(doc: OpenApi, seed: number, perOperation = 3): Plan[] {
  return operationsOf(doc).flatMap((o, i) => [
    ...fc.sample(operationPlan(doc, o, true), { seed: seed + i, numRuns: 1 }),
    ...fc.sample(operationPlan(doc, o, false), { seed: seed + 7919 * (i + 1), numRuns: perOperation - 1 }),
  ]);
}
