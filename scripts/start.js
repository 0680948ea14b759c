#!/usr/bin/env node
'use strict';
// `npm start`: a real VS Code with the extension, for people. Builds what is stale, installs
// code-server on first use (.vscode-test/host), fills a demo workspace with a running demo process and
// a fresh checkpoint image of it, starts code-server on 127.0.0.1 with the extension loaded from this
// tree as under development, prints the URL, and runs until Ctrl-C, when everything it started goes.
//
//   npm start [-- --port N]        (or CKPT_PORT=N; default: a free port)
//
// The extension is loaded from the tree (extensionDevelopmentPath in the URL's payload), not from a
// VSIX: after `npm run watch` rebuilds, "Developer: Reload Window" picks up the change. To try the
// packaged extension instead, `npm run package` and install the .vsix from the Extensions view.

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

require('tsx/cjs/api').register();
const { ensureBuilt, nativeBinary } = require('./vscode-host/build.ts');
const { killGroup, onCleanup } = require('./vscode-host/cleanup.ts');
const { startCodeServer } = require('./vscode-host/codeServer.ts');
const { cacheDir, ensureVSCodeHost, repoRoot } = require('./vscode-host/provision.ts');

const demoSource = path.join(repoRoot, 'test', 'demo', 'demo-counter.c');
const demoDir = path.join(cacheDir, 'demo');
const workspace = path.join(demoDir, 'workspace');

function parsePort() {
  const i = process.argv.indexOf('--port');
  const v = i >= 0 ? process.argv[i + 1] : process.env.CKPT_PORT;
  const port = Number(v || 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port: ${v}`);
  return port;
}

/** Compiles the demo target into the cache if its source is newer than the binary. */
function buildDemo() {
  const bin = path.join(demoDir, 'bin', 'ckpt-demo');
  const mtime = (f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : 0);
  if (mtime(bin) > mtime(demoSource)) return bin;
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  const r = spawnSync('cc', ['-O1', '-g', '-Wall', '-o', bin, demoSource], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot compile the demo process (apt-get install -y gcc): ${r.error?.message ?? r.stderr}`);
  return bin;
}

/**
 * Every process running the demo binary: the demo, and copies restored from its images (their
 * parent is whoever reaped them, not us), so that Ctrl-C stops them all.
 */
function demoProcesses(bin) {
  const found = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readlinkSync(`/proc/${name}/exe`) === bin) found.push(Number(name));
    } catch {
      // another user's process, or gone
    }
  }
  return found;
}

/** Starts the demo process, detached from the terminal (Ctrl-C reaches us, and we stop it and its restored copies). */
function startDemo(bin) {
  const log = path.join(workspace, 'ckpt-demo.log');
  fs.rmSync(log, { force: true });
  const child = spawn(bin, [log], { cwd: workspace, detached: true, stdio: 'ignore' });
  onCleanup(() => {
    killGroup(child.pid, 'SIGKILL');
    for (const pid of demoProcesses(bin)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  });
  child.unref();
  return child;
}

/** Waits until the demo has written its first tick, so that the image shows a counter above zero. */
async function firstTick(pid) {
  const log = path.join(workspace, 'ckpt-demo.log');
  for (let i = 0; i < 40; i++) {
    if (fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('tick 2')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the demo process ${pid} never wrote to ${log}`);
}

function dumpDemo(pid) {
  const image = path.join(workspace, 'demo.ckpt');
  fs.rmSync(image, { force: true });
  const t0 = Date.now();
  const r = spawnSync(nativeBinary, ['dump', String(pid), '-o', image], { encoding: 'utf8' });
  if (r.status !== 0) {
    return { error: `ckpt dump ${pid} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || r.stdout).trim()}` };
  }
  return { image, ms: Date.now() - t0, bytes: fs.statSync(image).size };
}

function writeWorkspaceReadme() {
  fs.writeFileSync(
    path.join(workspace, 'README.md'),
    [
      '# Checkpoint Explorer demo workspace',
      '',
      '`npm start` made this folder. `ckpt-demo` (test/demo/demo-counter.c) is running and counting',
      'into `ckpt-demo.log`; `demo.ckpt` is an image of it taken at start. Open it from the Explorer,',
      'or find `ckpt-demo` in the Checkpoints view and checkpoint it again.',
      '',
      'In the image: the heap holds the banner "ckpt-explorer demo heap", the counter right after it,',
      'lines of readable text and 4 MiB of pseudo-random bytes.',
      '',
    ].join('\n'),
  );
}

async function main() {
  const port = parsePort();
  const built = ensureBuilt();
  ensureVSCodeHost();

  // Every run starts from a fresh demo workspace: images and files left by an earlier run go.
  const earlier = fs.existsSync(workspace);
  fs.rmSync(workspace, { recursive: true, force: true });
  fs.mkdirSync(workspace, { recursive: true });
  writeWorkspaceReadme();
  console.log(`demo workspace: ${workspace}${earlier ? ' (made afresh: what an earlier run left there is gone)' : ''}`);
  const demo = startDemo(buildDemo());
  await firstTick(demo.pid);
  console.log(`demo process: ckpt-demo, pid ${demo.pid}, counting into ${path.join(workspace, 'ckpt-demo.log')}`);
  if (built.native) {
    const d = dumpDemo(demo.pid);
    if (d.error) console.log(`demo image: NOT made: ${d.error}`);
    else console.log(`demo image: ${d.image} (${(d.bytes / 1048576).toFixed(1)} MiB, ${d.ms} ms)`);
  } else {
    fs.rmSync(path.join(workspace, 'demo.ckpt'), { force: true });
    console.log(`demo image: NOT made: ${built.nativeMissing}; starting without it`);
  }

  const server = await startCodeServer({ name: 'ckpt-start', port });
  const url = server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: repoRoot });
  console.log(`\ncode-server ${server.host.vscodeVersion}, listening on 127.0.0.1 only, state in ${server.stateDir}`);
  console.log(`extension loaded from ${repoRoot} (Developer: Reload Window picks up a rebuild)`);
  console.log('Ctrl-C stops code-server, the demo process and any copy of it restored meanwhile.');
  // The one address to open, last: it opens the demo workspace with the extension loaded (the
  // server's bare address would open an empty window).
  console.log(`\n  Open this in a browser:\n\n  ${url}\n`);

  // Runs until a signal (cleanup.ts then stops code-server's group and the demo) or until code-server
  // stops by itself.
  const watch = setInterval(() => {
    try {
      process.kill(demo.pid, 0);
    } catch {
      console.log(`(the demo process ${demo.pid} has ended)`);
      clearInterval(watch);
    }
  }, 2000);
  const how = await server.exited;
  clearInterval(watch);
  console.error(`code-server stopped by itself (${how}); its last lines:\n${server.log().trimEnd().split('\n').slice(-20).join('\n')}`);
  await server.stop();
  process.exit(1);
}

main().catch((e) => {
  console.error(`npm start: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
