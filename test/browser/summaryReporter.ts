// Mocha's spec reporter, plus one plain closing line, "browser: N passed, N failed[, N skipped]", that
// CI reads as the run's count (mocha's own "N passing" is not a line it knows).

import Mocha from 'mocha';

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    const label = process.env.CKPT_SUMMARY_LABEL || 'browser';
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats;
      // After Spec's own epilogue, which it prints on the same event.
      process.nextTick(() => {
        console.log(`${label}: ${s?.passes ?? 0} passed, ${s?.failures ?? 0} failed${s?.pending ? `, ${s.pending} skipped` : ''}`);
      });
    });
  }
}

export = SummaryReporter;
