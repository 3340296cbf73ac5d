import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@reelay/observability';

/** The real logger, with its JSON lines kept in memory, to assert on what the stack logs. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: string[]; text(): string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ name: 'reelay-test', level, destination });
  return { logger, lines, text: () => lines.join('\n') };
}
