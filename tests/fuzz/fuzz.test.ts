import { formatReport, runFuzz } from './fuzz';

// A short seeded run of the fuzz suite (tests/fuzz/run.ts runs long ones): every generated request
// must pass every oracle. FUZZ_N and FUZZ_SEED change the run, e.g. to replay a failure.
test('a seeded fuzz run over every endpoint finds no failure class', async () => {
  const report = await runFuzz({ n: Number(process.env.FUZZ_N ?? 1200), seed: Number(process.env.FUZZ_SEED ?? 20261201), renderMax: 8 });
  process.stdout.write(formatReport(report));
  expect(report.requests).toBeGreaterThanOrEqual(Number(process.env.FUZZ_N ?? 1200));
  expect(report.classes.map((c) => `${c.oracle} ${c.route} ${c.status} ${c.pattern}\n${c.reproducer}`)).toEqual([]);
}, 180_000);
