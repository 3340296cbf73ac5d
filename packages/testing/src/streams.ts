import type { Readable } from 'node:stream';

/** Reads a whole stream (an adapter's fetchOutput) into memory, for comparing with what an emulator served. */
export async function bytesOf(stream: Readable | NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}
