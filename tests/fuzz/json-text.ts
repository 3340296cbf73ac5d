/**
 * JSON written token by token, so a body can hold what JSON.stringify never writes: numbers as
 * exact text (1e309, -0, 9007199254740993), repeated keys, and broken text on purpose.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object whose entries may repeat a key (JSON.parse keeps the last one). */
export class JsonEntries {
  constructor(readonly entries: [string, JsonValue][]) {}
}

export type JsonValue = null | boolean | number | string | RawJson | JsonEntries | JsonValue[] | { [key: string]: JsonValue };

export function jsonText(v: JsonValue): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof JsonEntries) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(jsonText).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`)
      .join(',')}}`;
  // JSON.stringify escapes lone surrogates as \udXXX (well-formed JSON.stringify), as a client would send them.
  return JSON.stringify(v) ?? 'null';
}

/** The text form of a value as a multipart field would carry it. */
export function formText(v: JsonValue): string {
  if (typeof v === 'string') return v;
  if (v instanceof RawJson) return v.text;
  return jsonText(v);
}
