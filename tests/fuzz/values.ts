import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { JsonEntries, RawJson, type JsonValue } from './json-text';

/** Strings that have broken parsers, databases, renderers and headers somewhere. */
export const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\udbff\udfff',
  '\ud83d\ude00',
  '\u202egnp.exe',
  '\u200b',
  '\ufeff',
  '\u0007\u001b[31m',
  '\r\n',
  'line1\nline2',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  '%00',
  '%',
  '%ff',
  '%{e:while(1,1)}',
  '%{pts}',
  '%{localtime}',
  "'",
  '"',
  '\\',
  ':',
  '\\\\n',
  '$(id)',
  '`id`',
  '; rm -rf /',
  "' OR 1=1 --",
  "'); DROP TABLE tasks; --",
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '<script>alert(1)</script>',
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  'ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ',
  'שלום עולם',
  'مرحبا',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗',
  '1e309',
  '-0',
  '9007199254740993',
  '1e3',
  ' 5 ',
  '0x10',
  '+7',
  '.5',
  '5.',
  'NaN',
  'Infinity',
  '-1',
  '4294967296',
  '1280x720',
  ' 64x64 ',
  '00064x00064',
  'x'.repeat(300),
  'y'.repeat(5000),
];

/** Any UTF-16 code unit, lone surrogates and controls included. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const asciiControl = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: anyCodeUnit, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: asciiControl, minLength: 1, maxLength: 8 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...NASTY_STRINGS)).map(([a, b]) => a + b) },
);

/** Numbers written exactly as a hostile client would write them in JSON. */
export const hostileNumber: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constantFrom(
    new RawJson('1e309'),
    new RawJson('-1e309'),
    new RawJson('-0'),
    new RawJson('9007199254740993'),
    new RawJson('9007199254740992'),
    new RawJson('18446744073709551616'),
    new RawJson('1e-400'),
    new RawJson('1E3'),
    new RawJson('4.0000000000000001'),
    new RawJson('0.1e1'),
    new RawJson('123456789012345678901234567890'),
    new RawJson('-9223372036854775809'),
  ),
  fc.constantFrom<JsonValue>(
    0,
    -1,
    1.5,
    0.0001,
    4294967295,
    4294967296,
    2 ** 31,
    -(2 ** 31) - 1,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    1e21,
    5e-324,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Nested deeper than anything Reelay accepts, in objects or arrays. */
export const deepValue: fc.Arbitrary<JsonValue> = fc
  .tuple(fc.integer({ min: 15, max: 6000 }), fc.boolean())
  .map(([depth, arrays]) => new RawJson(arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

const prototypeObject: fc.Arbitrary<JsonValue> = fc
  .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.constantFrom<JsonValue>({ polluted: true }, 1, 'x', null))
  .map(([k, v]) => new JsonEntries([[k, v]]));

/** Any JSON value a hostile client might put where a field goes. */
export const hostileValue: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 6, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom<JsonValue>(true, false, null, [], {}, [null], ['a', 'b'], { '': '' }) },
  { weight: 1, arbitrary: deepValue },
  { weight: 1, arbitrary: prototypeObject },
  { weight: 1, arbitrary: fc.dictionary(hostileString, hostileString, { maxKeys: 4 }) as fc.Arbitrary<JsonValue> },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 101, max: 3000 }).map((n) => Array.from({ length: n }, (_, i) => i)) },
);

// --- Images -------------------------------------------------------------------------------

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An RGB PNG of width×height whose IHDR says what it likes; `rows` decides the pixel data sent. */
export function png(width: number, height: number, opts: { pixels?: Buffer; idat?: Buffer } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  let idat = opts.idat;
  if (!idat) {
    const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x80)]);
    idat = deflateSync(opts.pixels ?? Buffer.concat(Array.from({ length: height }, () => row)));
  }
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A real PNG of exactly `bytes` bytes: a 16×16 image with a tEXt comment of padding before IEND. */
export function paddedPng(bytes: number): Buffer {
  const base = png(16, 16);
  const iend = base.subarray(base.length - 12);
  const pad = bytes - base.length - 12;
  if (pad < 8) throw new Error(`a valid PNG needs at least ${base.length + 20} bytes`);
  const text = Buffer.concat([Buffer.from('Comment\0', 'latin1'), Buffer.alloc(pad - 8, 0x70)]);
  return Buffer.concat([base.subarray(0, base.length - 12), pngChunk('tEXt', text), iend]);
}

export const IMAGES = {
  /** A real 16×16 PNG. */
  validPng: png(16, 16),
  /** Right signature and IHDR, pixel data that is not zlib. */
  corruptPng: png(16, 16, { idat: Buffer.from('this is not deflate data at all, just bytes') }),
  /** An IHDR claiming 60000×60000 (3.6 gigapixels) over a few bytes of data. */
  hugePng: png(60000, 60000, { idat: deflateSync(Buffer.alloc(64)) }),
  /** JPEG magic bytes, then noise. */
  corruptJpeg: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('garbage garbage garbage garbage')]),
  /** WebP container with a chunk that is not VP8 data. */
  corruptWebp: Buffer.concat([
    Buffer.from('RIFF'),
    Buffer.from([0x20, 0, 0, 0]),
    Buffer.from('WEBPVP8 '),
    Buffer.from([0x10, 0, 0, 0]),
    Buffer.alloc(16, 0x41),
  ]),
  /** Only the PNG signature. */
  truncatedPng: PNG_SIGNATURE,
  notAnImage: Buffer.from('GIF89a definitely not a png'),
};

export type ImageName = keyof typeof IMAGES;
export const imageName: fc.Arbitrary<ImageName> = fc.constantFrom(...(Object.keys(IMAGES) as ImageName[]));

/** `image` / `input_reference.image_url` values: images as data URLs or base64, and URLs the SSRF guard must refuse. */
export const imageText: fc.Arbitrary<{ text: string; image: ImageName | null }> = fc.oneof(
  imageName.map((name) => ({ text: `data:image/png;base64,${IMAGES[name].toString('base64')}`, image: name })),
  imageName.map((name) => ({ text: IMAGES[name].toString('base64'), image: name })),
  fc
    .constantFrom(
      'http://127.0.0.1:1/a.png',
      'http://localhost/a.png',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/a.png',
      'http://10.0.0.1/a.png',
      'http://0x7f000001/a.png',
      'http://user:pass@127.0.0.1/a.png',
      'file:///etc/passwd',
      'ftp://127.0.0.1/a.png',
      'gopher://127.0.0.1:6379/_FLUSHALL',
      'data:image/png,notbase64',
      'data:;base64,',
      'not base64 !!!',
      'http://',
      'http://%00/',
    )
    .map((text) => ({ text, image: null })),
);
