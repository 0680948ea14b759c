// Debian's Chromium, headless, driven by playwright-core (which never downloads a browser of its own).

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BrowserContext, chromium } from 'playwright-core';
import { onCleanup } from './cleanup';

export const chromiumPath = process.env.CKPT_CHROMIUM || '/usr/bin/chromium';

/** SIGKILLs the Chromium processes that use this (unique, temp) profile folder. */
function killChromiumOf(profile: string): void {
  for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`--user-data-dir=${profile}`)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone, or not ours to read
    }
  }
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Starts headless Chromium with a fresh profile in a temp folder; close() removes both. */
export async function launchBrowser(opts: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: the browser tests use Debian's Chromium (apt-get install -y chromium), or set CKPT_CHROMIUM`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-chromium-'));
  // On a signal, Chromium is still writing to its profile; stop it first (Playwright would only do so
  // later, in its own exit handler), or removing the folder races with it.
  const dropProfile = onCleanup(() => {
    killChromiumOf(profile);
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
  });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      viewport: opts.viewport ?? { width: 1440, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
  } catch (e) {
    fs.rmSync(profile, { recursive: true, force: true });
    dropProfile();
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    context,
    close: () =>
      (closed ??= (async () => {
        await context.close().catch(() => undefined);
        fs.rmSync(profile, { recursive: true, force: true });
        dropProfile();
      })()),
  };
}
