// The TypeScript decoder's fuzzer (`npm run fuzz:ts`, and in `npm test` through test:fuzz):
// first every input of the corpus (test/fuzz/ts-corpus/, regressions kept in the repository),
// then mutants for FUZZ_SECONDS (default 60; `npm run fuzz` runs 600) from FUZZ_SEED (default:
// from the clock). It prints the seed and the number of executions. A failure is shrunk by
// fast-check, left in build/fuzz/ts-found/ and printed; once fixed, move it into the corpus,
// named BASE--what-it-broke.ckpt.gz (BASE is the image it is a mutant of).

import fs from 'node:fs';
import path from 'node:path';
import { corpusFiles, fuzz, FuzzRunner, readCorpus, saveInput } from './fuzzer';
import { fuzzBases } from './bases';

async function main(): Promise<number> {
  const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
  const bases = await fuzzBases();
  const runner = new FuzzRunner(bases);
  try {
    const corpus = corpusFiles();
    let corpusFailures = 0;
    for (const file of corpus) {
      // BASE--what.ckpt.gz is a mutant of BASE, compared with it by diff.
      const base = bases.find((b) => path.basename(file).startsWith(`${b.name}--`)) ?? bases[0];
      const v = await runner.check(base, readCorpus(file), base.addresses[1]);
      if (!v.ok) {
        corpusFailures++;
        console.log(`fuzz-ts: corpus ${path.basename(file)}: ${v.why}`);
      }
    }
    if (corpusFailures) return 1;
    console.log(`fuzz-ts: ${corpus.length} corpus inputs replayed; fuzzing ${bases.map((b) => `${b.name} (${b.bytes.length} bytes)`).join(', ')} for ${seconds} s, seed ${seed}`);
    const report = await fuzz(runner, bases, {
      seed,
      timeLimit: seconds * 1000,
      onFailure: (base, _mutant, bytes, why) => {
        const file = saveInput(bytes, `${base.name}--seed-${seed}`);
        console.log(`fuzz-ts: the failing input is ${file} (${fs.statSync(file).size} bytes gzipped): ${why}`);
      },
    });
    const per = Object.entries(report.perBase)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(`fuzz-ts: ${report.executions} executions (${per}) in ${Math.round(report.ms / 1000)} s, seed ${seed}: ${report.failed ? `FAILED: ${report.counterexample}` : 'no failure'}`);
    return report.failed ? 1 : 0;
  } finally {
    await runner.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
