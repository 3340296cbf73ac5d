import { invalidParameter } from './errors';

export type ImageMime = 'image/png' | 'image/jpeg' | 'image/webp';
export interface ImageBytes {
  data: Buffer;
  mime: ImageMime;
  /** As the image's header states them (checked against the pixel cap, not yet decoded). */
  width: number;
  height: number;
}

/** Pixels accepted in an input image unless configured otherwise (REELAY_MAX_IMAGE_PIXELS). */
export const DEFAULT_MAX_IMAGE_PIXELS = 40_000_000;

/** Identifies PNG, JPEG and WebP by their magic bytes; anything else is not an image we take. */
export function sniffImage(buf: Buffer): ImageMime | null {
  if (buf.length >= 8 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/** JPEG start-of-frame markers (they carry the size); C4, C8 and CC are other tables. */
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * Width and height as the image's header states them: PNG's IHDR, JPEG's start-of-frame segment,
 * WebP's VP8 frame header, VP8L header or VP8X canvas. Null when the header is missing or cut short.
 */
export function imageSize(buf: Buffer, mime: ImageMime): { width: number; height: number } | null {
  if (mime === 'image/png') {
    if (buf.length < 24 || buf.toString('latin1', 12, 16) !== 'IHDR') return null;
    return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
  }
  if (mime === 'image/jpeg') {
    let at = 2;
    // Segment by segment; each step moves forward, so the walk ends within the buffer.
    while (at + 4 <= buf.length) {
      if (buf[at] !== 0xff) return null;
      const marker = buf[at + 1]!;
      if (marker === 0xff) {
        at += 1; // fill byte
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        at += 2; // markers without a length
        continue;
      }
      if (marker === 0xd9 || marker === 0xda) return null; // end of image, or scan data before any frame header
      const length = buf.readUInt16BE(at + 2);
      if (length < 2) return null;
      if (JPEG_SOF.has(marker)) {
        if (at + 9 > buf.length) return null;
        return { width: buf.readUInt16BE(at + 7), height: buf.readUInt16BE(at + 5) };
      }
      at += 2 + length;
    }
    return null;
  }
  if (buf.length < 30) return null;
  const chunk = buf.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    if (buf[23] !== 0x9d || buf[24] !== 0x01 || buf[25] !== 0x2a) return null;
    return { width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (buf[20] !== 0x2f) return null;
    const bits = buf.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') return { width: buf.readUIntLE(24, 3) + 1, height: buf.readUIntLE(27, 3) + 1 };
  return null;
}

const KIND: Record<ImageMime, string> = { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/webp': 'WebP' };

/**
 * Image bytes as an input: a PNG, JPEG or WebP whose header can be read, with a size within
 * `maxPixels`. Whether the data really decodes is checked later, by a decoder (see the API).
 */
export function checkImageBytes(data: Buffer, param: string, maxPixels: number): ImageBytes {
  const mime = sniffImage(data);
  if (!mime) throw invalidParameter(param, 'must be a PNG, JPEG or WebP image');
  const size = imageSize(data, mime);
  if (!size || size.width === 0 || size.height === 0) throw invalidParameter(param, `is not a valid ${KIND[mime]} image: its header is missing or damaged`);
  if (size.width * size.height > maxPixels) {
    throw invalidParameter(
      param,
      `is ${size.width}x${size.height} pixels; images of at most ${maxPixels} pixels (${Math.floor(maxPixels / 1e6)} megapixels) are accepted`,
    );
  }
  return { data, mime, ...size };
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Decodes a data URL or raw base64 string into checked image bytes. */
export function decodeImageString(value: string, param: string, maxBytes: number, maxPixels = DEFAULT_MAX_IMAGE_PIXELS): ImageBytes {
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
  return checkImageBytes(data, param, maxPixels);
}
