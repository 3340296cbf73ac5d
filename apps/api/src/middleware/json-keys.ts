/**
 * The first key that appears twice at the top level of a JSON object text, or null. JSON.parse
 * silently keeps the last one, which would let `{"seconds":"4", ..., "seconds":"12"}` mean
 * something other than what a reader of the body sees. Call only on text JSON.parse accepted; every
 * loop is bounded by the text's length, so even text it was not meant for cannot stall the process.
 */
export function duplicateTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) return null;
      if (depth === 1 && expectKey) {
        const raw = text.slice(i + 1, j);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw; // unescaped, so "\u0070rompt" is "prompt"
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}
