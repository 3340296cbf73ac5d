/** Prints one plain closing line, "jest: N passed, N failed, N skipped", that any CI can read. */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped, numTotalTestSuites, numFailedTestSuites } = results;
    const broken = numFailedTestSuites > 0 && failed === 0 ? numFailedTestSuites : 0;
    process.stdout.write(`\njest: ${passed} passed, ${failed + broken} failed, ${skipped} skipped\n`);
    if (numTotalTestSuites === 0) process.stdout.write('jest: no test suites ran\n');
  }
}
module.exports = SummaryReporter;
