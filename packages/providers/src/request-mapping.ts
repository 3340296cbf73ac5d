import { readFile } from 'node:fs/promises';
import type { SubmitRequest } from './provider';

/** Shared translation of a Reelay task into the vocabulary video model APIs use. */

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** "1280x720" → "16:9", "720x1280" → "9:16", "1024x1024" → "1:1". */
export function aspectRatioOf(width: number, height: number): string {
  const d = gcd(width, height);
  return `${width / d}:${height / d}`;
}

/** The "720p"-style label of a size: its shorter side. */
export const resolutionOf = (width: number, height: number): string => `${Math.min(width, height)}p`;

const sniff = (b: Buffer): string =>
  b[0] === 0x89 && b[1] === 0x50
    ? 'image/png'
    : b[0] === 0xff && b[1] === 0xd8
      ? 'image/jpeg'
      : b.subarray(8, 12).toString('latin1') === 'WEBP'
        ? 'image/webp'
        : 'application/octet-stream';

/** The task's input image (already validated and stored by the API) as bytes and MIME type. */
export async function readInputImage(req: SubmitRequest): Promise<{ bytes: Buffer; mime: string } | null> {
  if (!req.imagePath) return null;
  const bytes = await readFile(req.imagePath);
  return { bytes, mime: req.imageMime ?? sniff(bytes) };
}

export const dataUri = (img: { bytes: Buffer; mime: string }): string => `data:${img.mime};base64,${img.bytes.toString('base64')}`;

/**
 * The request's extended parameters (`metadata`, e.g. negative_prompt, style) that are passed to
 * the upstream as model inputs. Reelay's own bookkeeping keys are not.
 */
export function extendedInputs(metadata: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (k === 'fps' || k === 'seed') continue;
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
  }
  return out;
}
