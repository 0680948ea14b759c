'use strict';
// Preloaded (node --require) into a ckpt-inspect under test: at exit, writes the process's peak
// resident set (KiB) and CPU time to the file named by CKPT_USAGE_FILE, for the limits tests.
const fs = require('fs');
process.on('exit', () => {
  const file = process.env.CKPT_USAGE_FILE;
  if (!file) return;
  const u = process.resourceUsage();
  fs.writeFileSync(file, JSON.stringify({ maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }));
});
