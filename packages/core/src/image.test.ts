import { checkImageBytes, imageSize } from './image';

const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const png = (w: number, h: number): Buffer => {
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write('IHDR', 4, 'latin1');
  ihdr.writeUInt32BE(w, 8);
  ihdr.writeUInt32BE(h, 12);
  return Buffer.concat([PNG_SIG, ihdr]);
};
/** SOI, an APP0 segment, then a baseline start-of-frame with the size. */
const jpeg = (w: number, h: number, sof = 0xc0): Buffer => {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const frame = Buffer.from([0xff, sof, 0x00, 0x11, 8, h >> 8, h & 0xff, w >> 8, w & 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, Buffer.from([0xff, 0xff]), frame]);
};
const riff = (chunk: string, payload: Buffer): Buffer =>
  Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBP'), Buffer.from(chunk, 'latin1'), Buffer.alloc(4), payload, Buffer.alloc(8)]);

test('reads width and height from PNG, JPEG and the three WebP headers', () => {
  expect(imageSize(png(1280, 720), 'image/png')).toEqual({ width: 1280, height: 720 });
  expect(imageSize(jpeg(640, 480), 'image/jpeg')).toEqual({ width: 640, height: 480 });
  expect(imageSize(jpeg(300, 200, 0xc2), 'image/jpeg')).toEqual({ width: 300, height: 200 }); // progressive
  // VP8 (lossy): frame tag, start code 9d 01 2a, 14-bit sizes.
  const vp8 = Buffer.from([0x10, 0x03, 0x00, 0x9d, 0x01, 0x2a, 0x20, 0x00, 0x10, 0x00]);
  expect(imageSize(riff('VP8 ', vp8), 'image/webp')).toEqual({ width: 32, height: 16 });
  // VP8L (lossless): signature 0x2f, then (width-1) and (height-1) in 14 bits each.
  const bits = Buffer.alloc(4);
  bits.writeUInt32LE((99 & 0x3fff) | ((49 & 0x3fff) << 14), 0);
  expect(imageSize(riff('VP8L', Buffer.concat([Buffer.from([0x2f]), bits])), 'image/webp')).toEqual({ width: 100, height: 50 });
  // VP8X (extended): flags, reserved, then canvas (width-1) and (height-1) in 24 bits each.
  const vp8x = Buffer.from([0, 0, 0, 0, 0x7f, 0x1d, 0x00, 0x5f, 0xea, 0x00]);
  expect(imageSize(riff('VP8X', vp8x), 'image/webp')).toEqual({ width: 7552, height: 60000 });
});

test('a missing or cut header is no size, and is refused naming the field', () => {
  expect(imageSize(PNG_SIG, 'image/png')).toBeNull();
  expect(imageSize(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00]), 'image/jpeg')).toBeNull();
  expect(imageSize(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 1, 2, 3, 4, 5, 6]), 'image/jpeg')).toBeNull(); // scan before any frame
  expect(imageSize(riff('VP8 ', Buffer.alloc(10)), 'image/webp')).toBeNull();
  expect(() => checkImageBytes(PNG_SIG, 'image', 40e6)).toThrow(/image is not a valid PNG image: its header is missing or damaged/);
  expect(() => checkImageBytes(png(0, 10), 'input_reference', 40e6)).toThrow(/input_reference is not a valid PNG image/);
  expect(() => checkImageBytes(Buffer.from('GIF89a....'), 'image', 40e6)).toThrow(/must be a PNG, JPEG or WebP image/);
});

test('an image above the pixel cap is refused, stating its size and the cap', () => {
  let err: unknown;
  try {
    checkImageBytes(png(60000, 60000), 'input_reference', 40_000_000);
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({
    status: 400,
    param: 'input_reference',
    message: 'Invalid parameter: input_reference is 60000x60000 pixels; images of at most 40000000 pixels (40 megapixels) are accepted',
  });
  expect(checkImageBytes(png(8000, 5000), 'image', 40_000_000)).toMatchObject({ mime: 'image/png', width: 8000, height: 5000 });
});
