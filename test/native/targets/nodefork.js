// Test target: node and one child_process.fork child, over its IPC channel (a socketpair),
// squaring 0..1000; writes "ready PID CHILD", progress and "result SUM" (333833500) to OUT.
const { fork } = require('child_process');
const fs = require('fs');
if (process.argv[2] === 'child') {
  process.on('message', (m) => process.send({ n: m.n, sq: m.n * m.n, pid: process.pid }));
} else {
  const out = process.argv[2];
  const child = fork(__filename, ['child']);
  let n = 0,
    total = 0;
  fs.appendFileSync(out, `ready ${process.pid} ${child.pid}\n`);
  child.on('message', (m) => {
    total += m.sq;
    if (m.n % 50 === 0) fs.appendFileSync(out, `progress ${m.n}\n`);
    if (m.n === 1000) {
      fs.appendFileSync(out, `result ${total}\n`);
      child.kill();
      process.exit(0);
    } else setTimeout(() => child.send({ n: ++n }), 5);
  });
  child.send({ n });
}
