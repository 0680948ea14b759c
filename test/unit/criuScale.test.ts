// A CRIU checkpoint of 4 GiB of memory (the real `single` dump with 4 GiB more of VMAs and pages,
// the pages a hole in the file) opens, summarises and shows its last page as fast as a small one,
// and opening reads no page data: the bytes this process reads (/proc/self/io rchar) stay far
// below one page file's worth.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { openCheckpoint } from '../../src/checkpoint';
import { ImageRequests } from '../../src/webviews/imageRequests';
import { BIG_BASE, writeBigCriu } from '../support/bigCriu';

const rchar = () => Number(/^rchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))![1]);

describe('CRIU images: a 4 GiB checkpoint', function () {
  this.timeout(60_000);
  it("opens and answers the editor's first requests at once, reading no page data", async () => {
    const big = writeBigCriu(4);
    try {
      const before = rchar();
      const t0 = performance.now();
      const c = await openCheckpoint(big.dir);
      const opened = performance.now() - t0;
      const read = rchar() - before;
      const req = new ImageRequests(c, () => ({ status: 'unverified', problems: [] }));
      const s = await req.summary();
      const top = await req.children({});
      const proc = s.processes[0];
      const layout = await req.memoryLayout({ process: proc.index });
      const last = BIG_BASE + BigInt(big.bytes) - 4096n;
      const page = await req.memory({ process: proc.index, addr: `0x${last.toString(16)}`, length: 4096 });
      const ms = performance.now() - t0;
      await c.close();
      assert.equal(proc.dumpedBytes, big.bytes + 45 * 4096);
      assert.ok(top.total > 10);
      assert.ok(layout.spans.some((x) => x.kind === 'data' && BigInt(x.end) === BIG_BASE + BigInt(big.bytes)));
      assert.equal(page[0].state, 'dumped');
      assert.equal(Buffer.from(page[0].bytes!).toString('hex'), '00'.repeat(4096));
      assert.ok(read < 4 * 1024 * 1024, `opening read ${read} bytes`);
      assert.ok(opened < 500 && ms < 1000, `open ${opened.toFixed(0)} ms, first answers ${ms.toFixed(0)} ms`);
      console.log(`      open ${opened.toFixed(0)} ms (${read} bytes read); with summary, tree, layout and the last page: ${ms.toFixed(0)} ms`);
    } finally {
      big.remove();
    }
  });
});
