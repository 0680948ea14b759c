// Starts code-server (the real VS Code server and web client) for one test run or one `npm start`:
// bound to 127.0.0.1 on a free port, no auth, every bit of state (user data, extensions, XDG config and
// data, config.yaml) in a fresh temp folder, quiet settings, no marketplace. stop() kills the whole
// process group and removes the folder; if the caller dies first, cleanup.ts does the same.

import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { killGroup, onCleanup, tempFolder } from './cleanup';
import { ensureVSCodeHost, VSCodeHost } from './provision';

export interface CodeServerOptions {
  /** Extra environment for the server, which its extension host inherits (e.g. CKPT_TEST_RESULTS). */
  env?: Record<string, string>;
  /** .vsix files to install into the fresh extensions dir before the server starts. */
  installExtensions?: string[];
  /** 0 (the default) lets the kernel pick a free port. */
  port?: number;
  /** User settings merged over the quiet defaults. */
  settings?: Record<string, unknown>;
  /** Prefix for the temp folder's name. */
  name?: string;
  /** Echo the server's log lines to stderr as they come (CKPT_VSCODE_VERBOSE=1 does the same). */
  verbose?: boolean;
}

export interface WorkbenchUrlOptions {
  /** Folder to open (absolute path on this machine). */
  folder?: string;
  /** An extension folder to load as under development (absolute path). */
  extensionDevelopmentPath?: string;
  /** A test index .js exporting run(); the workbench runs it and reports through codeAutomationExit. */
  extensionTestsPath?: string;
}

export interface CodeServer {
  host: VSCodeHost;
  port: number;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** 127.0.0.1:PORT, the remote authority that VS Code sees. */
  authority: string;
  /** The temp folder that holds all state; removed by stop(). */
  stateDir: string;
  userDataDir: string;
  extensionsDir: string;
  /** The URL that opens the workbench with a folder and, for development and tests, a payload. */
  workbenchUrl(opts?: WorkbenchUrlOptions): string;
  /** Settles when the server stops, on its own or by stop(), with how it ended. */
  exited: Promise<string>;
  /** Everything the server has printed so far. */
  log(): string;
  /** Stops the server (SIGTERM to its group, SIGKILL after 3 s) and removes the state folder. */
  stop(): Promise<void>;
}

/** Settings that keep a fresh workbench from showing tips, walkthroughs, trust prompts or AI panes. */
export const quietSettings: Record<string, unknown> = {
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'git.enabled': false,
  'npm.autoDetect': 'off',
  'typescript.tsc.autoDetect': 'off',
};

/**
 * Leads code-server's process group: runs the server, passes signals on, and if its owner (argv[1])
 * disappears without stopping it (killed outright), removes the state folder and kills the group.
 */
const reaper = `
const { spawn } = require('child_process');
const fs = require('fs');
const [owner, stateDir, cmd, ...args] = process.argv.slice(1);
const server = spawn(cmd, args, { stdio: 'inherit' });
server.on('exit', (code, signal) => process.exit(code ?? 128));
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => server.kill(s));
setInterval(() => {
  try { process.kill(Number(owner), 0); } catch {
    try { fs.rmSync(stateDir, { recursive: true, force: true }); } catch {}
    process.kill(-process.pid, 'SIGKILL');
  }
}, 500);
`;

/** The environment code-server runs in: Node 24 first on PATH, XDG dirs inside the state folder. */
function serverEnv(host: VSCodeHost, stateDir: string, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // An outer `npm run`'s variables describe Node 20 and this repo; VS Code's server must not see them.
  for (const k of Object.keys(env)) if (/^npm_/.test(k) || k === 'NODE' || k === 'INIT_CWD') delete env[k];
  return {
    ...env,
    PATH: `${path.dirname(host.node)}${path.delimiter}${process.env.PATH ?? ''}`,
    XDG_CONFIG_HOME: path.join(stateDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(stateDir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(stateDir, 'xdg-cache'),
    XDG_RUNTIME_DIR: path.join(stateDir, 'xdg-runtime'),
    EXTENSIONS_GALLERY: '{}',
    VSCODE_CLI_TELEMETRY_DISABLED: '1',
    ...extra,
  };
}

function healthy(origin: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${origin}/healthz`, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  const host = ensureVSCodeHost();
  const { path: stateDir, remove: removeStateDir } = tempFolder(`${opts.name ?? 'ckpt-vscode'}-`);
  const userDataDir = path.join(stateDir, 'user-data');
  const extensionsDir = path.join(stateDir, 'extensions');
  for (const d of [userDataDir, path.join(userDataDir, 'User'), extensionsDir, 'xdg-config', 'xdg-data', 'xdg-cache', 'xdg-runtime']) {
    fs.mkdirSync(path.resolve(stateDir, d), { recursive: true, mode: 0o700 });
  }
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...quietSettings, ...opts.settings }, null, 2));
  const configFile = path.join(stateDir, 'config.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');
  const env = serverEnv(host, stateDir, opts.env);
  const common = ['--config', configFile, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];

  for (const vsix of opts.installExtensions ?? []) {
    const r = spawnSync(host.node, [host.entry, ...common, '--force', '--install-extension', vsix], { env, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) {
      removeStateDir();
      throw new Error(`code-server --install-extension ${vsix} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
    }
  }

  const args = [
    host.entry,
    ...common,
    '--bind-addr',
    `127.0.0.1:${opts.port ?? 0}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    // Without it a built VS Code ignores the extensionTestsPath payload and nothing runs.
    '--vscode-option',
    'enable-smoke-test-driver',
  ];
  // detached: its own process group, so that one kill reaches the server's children (extension host,
  // pty host, file watcher) and a Ctrl-C in the terminal reaches only us, who then clean up in order.
  // The group's leader is a small reaper that also cleans up if we die without a chance to (SIGKILL).
  const child = spawn(host.node, ['-e', reaper, String(process.pid), stateDir, host.node, ...args], {
    env,
    cwd: stateDir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const dropGroup = onCleanup(() => killGroup(child.pid, 'SIGKILL'));
  const verbose = opts.verbose ?? process.env.CKPT_VSCODE_VERBOSE === '1';
  let output = '';
  let exited: string | undefined;
  const exitedPromise = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`exit ${code ?? signal}`)));
  const portFound = new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      const s = d.toString();
      output += s;
      if (verbose) process.stderr.write(s.replace(/^/gm, '[code-server] '));
      const m = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      exited = `exit ${code ?? signal}`;
      reject(new Error(`code-server stopped before listening (${exited}):\n${output}`));
    });
    child.on('error', reject);
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (exited === undefined) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        killGroup(child.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000);
        await gone;
        clearTimeout(timer);
      }
      // The group may outlive its leader (an extension host still exiting).
      killGroup(child.pid, 'SIGKILL');
      dropGroup();
      removeStateDir();
    })());

  try {
    const t0 = Date.now();
    const port = await Promise.race([portFound, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`code-server did not listen within 30 s:\n${output}`)), 30_000))]);
    const origin = `http://127.0.0.1:${port}`;
    while (!(await healthy(origin))) {
      if (exited !== undefined) throw new Error(`code-server stopped (${exited}):\n${output}`);
      if (Date.now() - t0 > 30_000) throw new Error(`code-server's /healthz did not answer 200 within 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const authority = `127.0.0.1:${port}`;
    const remote = (p: string): string => `vscode-remote://${authority}${path.resolve(p)}`;
    return {
      host,
      port,
      origin,
      authority,
      stateDir,
      userDataDir,
      extensionsDir,
      workbenchUrl(u: WorkbenchUrlOptions = {}): string {
        const payload: [string, string][] = [['skipWelcome', 'true']];
        if (u.extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(u.extensionDevelopmentPath)]);
        if (u.extensionTestsPath) payload.push(['extensionTestsPath', remote(u.extensionTestsPath)]);
        const q = new URLSearchParams();
        if (u.folder) q.set('folder', path.resolve(u.folder));
        q.set('payload', JSON.stringify(payload));
        return `${origin}/?${q.toString()}`;
      },
      exited: exitedPromise,
      log: () => output,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
