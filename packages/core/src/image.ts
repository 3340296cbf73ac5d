import { invalidParameter } from './errors';

export type ImageMime = 'image/png' | 'image/jpeg' | 'image/webp';
export interface ImageBytes {
  data: Buffer;
  mime: ImageMime;
}

/** Identifies PNG, JPEG and WebP by their magic bytes; anything else is not an image we take. */
export function sniffImage(buf: Buffer): ImageMime | null {
  if (buf.length >= 8 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Decodes a data URL or raw base64 string into checked image bytes. */
export function decodeImageString(value: string, param: string, maxBytes: number): ImageBytes {
  let payload = value.trim();
  const dataUrl = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(payload);
  if (dataUrl) {
    if (!dataUrl[2]) throw invalidParameter(param, 'data URL must be base64-encoded');
    payload = dataUrl[3]!;
  }
  payload = payload.replace(/\s+/g, '');
  if (payload.length === 0 || payload.length % 4 === 1 || !BASE64.test(payload)) {
    throw invalidParameter(param, 'must be an http(s) URL, a data URL or valid base64 image data');
  }
  if (Math.floor((payload.length * 3) / 4) > maxBytes) throw invalidParameter(param, `must be at most ${maxBytes} bytes`);
  const data = Buffer.from(payload, payload.includes('-') || payload.includes('_') ? 'base64url' : 'base64');
  const mime = sniffImage(data);
  if (!mime) throw invalidParameter(param, 'must be a PNG, JPEG or WebP image');
  return { data, mime };
}
