/// <reference types="webpack/module" />
// The extension-host test entry (extensionTestsPath): VS Code loads the bundle of this file into the
// extension host next to the extension under development and awaits run(). Every `*.test.ts` in this
// folder is bundled in through require.context, so adding a test is adding a file.
//
// run() writes its counts to $CKPT_TEST_RESULTS, so that the runner can tell a real pass from a suite
// that never ran or found nothing (see scripts/vscode-host/runSuite.ts).

import * as fs from 'fs';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    color: false,
    reporter: 'spec',
    timeout: Number(process.env.CKPT_TEST_TIMEOUT_MS || 30_000),
    grep: process.env.CKPT_TEST_GREP || undefined,
  });
  const tests = require.context('.', true, /\.test\.ts$/);
  for (const file of tests.keys()) {
    mocha.suite.emit('pre-require', globalThis, file, mocha);
    mocha.suite.emit('require', tests(file), file, mocha);
    mocha.suite.emit('post-require', globalThis, file, mocha);
  }
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const s = runner.stats;
      const counts = { passed: s?.passes ?? 0, failed: failures, pending: s?.pending ?? 0, total: runner.total };
      const file = process.env.CKPT_TEST_RESULTS;
      if (file) fs.writeFileSync(file, JSON.stringify(counts));
      if (failures > 0) reject(new Error(`${failures} of ${runner.total} tests failed`));
      else resolve();
    });
  });
}
