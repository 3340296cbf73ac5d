import { formatCoverage, formatReport, runFuzz } from './fuzz';

// A short seeded run of the fuzz suite (tests/fuzz/run.ts runs long ones): every generated request
// must pass every oracle, and every operation of the OpenAPI document must have had requests, so a
// route added to the document is fuzzed or this fails. FUZZ_N and FUZZ_SEED change the run, e.g. to replay a failure.
test('a seeded fuzz run over every OpenAPI operation finds no failure class', async () => {
  const report = await runFuzz({ n: Number(process.env.FUZZ_N ?? 1200), seed: Number(process.env.FUZZ_SEED ?? 20261201), renderMax: 8 });
  process.stdout.write(`${formatCoverage(report)}\n${formatReport(report)}`);
  expect(report.requests).toBeGreaterThanOrEqual(Number(process.env.FUZZ_N ?? 1200));
  expect(Object.keys(report.byOperation).length).toBeGreaterThan(0);
  expect(
    Object.entries(report.byOperation)
      .filter(([, n]) => n === 0)
      .map(([op]) => op),
  ).toEqual([]);
  expect(report.classes.map((c) => `${c.oracle} ${c.route} ${c.status} ${c.pattern}\n${c.reproducer}`)).toEqual([]);
}, 180_000);
