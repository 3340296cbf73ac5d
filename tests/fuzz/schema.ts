import fc from 'fast-check';
import type { JsonValue } from './json-text';
import { hostileValue } from './values';

type Schema = Record<string, unknown>;

/**
 * Values for a JSON Schema of the OpenAPI document (the subset zod writes: type, enum, anyOf,
 * properties, pattern, min/max), with a hostile value mixed in at every level now and then, so
 * requests stay close enough to valid to get past the first checks.
 */
export function arbitraryFor(schema: Schema, components: Record<string, Schema>, depth = 0): fc.Arbitrary<JsonValue> {
  const plain = plainArbitrary(schema, components, depth);
  return fc.oneof({ weight: 5, arbitrary: plain }, { weight: 1, arbitrary: hostileValue });
}

function plainArbitrary(schema: Schema, components: Record<string, Schema>, depth: number): fc.Arbitrary<JsonValue> {
  if (typeof schema.$ref === 'string') {
    const target = components[schema.$ref.split('/').pop()!];
    return target ? plainArbitrary(target, components, depth) : hostileValue;
  }
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as JsonValue[]));
  if ('const' in schema) return fc.constant(schema.const as JsonValue);
  const union = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (union) return fc.oneof(...union.map((s) => plainArbitrary(s, components, depth)));
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : schema.type ? [schema.type as string] : [];
  if (types.length > 1) return fc.oneof(...types.map((t) => plainArbitrary({ ...schema, type: t }, components, depth)));
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : -1e6;
      const max = typeof schema.maximum === 'number' ? schema.maximum : 1e6;
      return fc.oneof(fc.integer({ min: Math.max(min, -1e6), max: Math.min(max, 1e6) }), fc.constantFrom(0, 1, 2, 4, 10, 64, 128));
    }
    case 'number':
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), fc.constantFrom(0, 1, 2, 4, 0.5));
    case 'string': {
      if (typeof schema.pattern === 'string') {
        try {
          return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= 64);
        } catch {
          /* a pattern JS cannot compile: plain strings */
        }
      }
      const maxLength = typeof schema.maxLength === 'number' ? Math.min(schema.maxLength, 64) : 32;
      return fc.string({ maxLength });
    }
    case 'array': {
      if (depth > 3) return fc.constant([]);
      const items = (schema.items as Schema | undefined) ?? {};
      return fc.array(plainArbitrary(items, components, depth + 1), { maxLength: 3 });
    }
    case 'object': {
      if (depth > 3) return fc.constant({});
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required as string[] | undefined) ?? []);
      const shape: Record<string, fc.Arbitrary<JsonValue>> = {};
      for (const [k, s] of Object.entries(props)) shape[k] = arbitraryFor(s, components, depth + 1);
      if (Object.keys(props).length === 0) {
        return fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 12 }), fc.integer()), { maxKeys: 4 }) as fc.Arbitrary<JsonValue>;
      }
      return fc.record(shape, { requiredKeys: [...required].filter((k) => k in shape) }) as fc.Arbitrary<JsonValue>;
    }
    default:
      return hostileValue;
  }
}
