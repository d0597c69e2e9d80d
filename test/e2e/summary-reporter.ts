import type { Reporter, SerializedError, TestCase, TestModule, TestSuite } from 'vitest/node';

/**
 * Ends the run with one line, `N passed, N failed`. Tests that never ran because a hook of
 * their suite failed (no browser, no server) count as failed, not as nothing.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    const failed = new Set<TestCase>();
    let otherFailures = unhandled.length;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') passed++;
        else if (s === 'failed') failed.add(t);
      }
      const broken: (TestModule | TestSuite)[] = [m, ...m.children.allSuites()].filter((x) => x.errors().length > 0);
      for (const b of broken) {
        const tests = [...b.children.allTests()].filter((t) => t.result().state !== 'passed');
        if (tests.length === 0) otherFailures++;
        for (const t of tests) failed.add(t);
      }
    }
    process.stdout.write(`\n${passed} passed, ${failed.size + otherFailures} failed\n`);
  }
}
