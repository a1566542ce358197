// Headless Chromium driven over the Chrome DevTools Protocol on a pipe (--remote-debugging-pipe: the
// browser reads commands on fd 3 and writes replies on fd 4, NUL-separated JSON). No ports, no extra
// packages. Used to render chart PNGs and to check the report renders without console errors.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export class BrowserError extends Error {
  override name = 'BrowserError';
}

const candidates = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

/** The Chromium binary: $BITSCALE_CHROMIUM, else the first of the usual Debian/Ubuntu paths; null if none. */
export function findChromium(): string | null {
  const fromEnv = process.env.BITSCALE_CHROMIUM;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  return candidates.find((p) => existsSync(p)) ?? null;
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string };
type Listener = (params: Record<string, unknown>, sessionId?: string) => void;

export class Browser {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Map<string, Set<Listener>>();
  private buffer = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly input: Writable,
    output: Readable,
    private readonly profileDir: string,
  ) {
    output.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      for (let end = this.buffer.indexOf('\0'); end >= 0; end = this.buffer.indexOf('\0')) {
        const msg = JSON.parse(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 1);
        this.dispatch(msg);
      }
    });
    child.on('exit', () => {
      for (const p of this.pending.values())
        p.reject(new BrowserError(`chromium exited while waiting for ${p.method}`));
      this.pending.clear();
    });
  }

  static async launch(): Promise<Browser> {
    const bin = findChromium();
    if (!bin) {
      throw new BrowserError(
        'chromium not found (looked at $BITSCALE_CHROMIUM and /usr/bin/chromium*); install it: sudo apt-get install chromium',
      );
    }
    const profileDir = mkdtempSync(join(tmpdir(), 'bitscale-chromium-'));
    const child = spawn(
      bin,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--no-default-browser-check',
        '--hide-scrollbars',
        `--user-data-dir=${profileDir}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const browser = new Browser(child, child.stdio[3] as Writable, child.stdio[4] as Readable, profileDir);
    await browser.send('Browser.getVersion', {}, undefined, 30_000);
    return browser;
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BrowserError(`chromium did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  on(event: string, listener: Listener): () => void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(listener);
    return () => this.listeners.get(event)?.delete(listener);
  }

  /** A new tab, attached in flat mode: commands to it carry its session id. */
  async newPage(width = 1200, height = 900): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as {
      targetId: string;
    };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as {
      sessionId: string;
    };
    const page = new Page(this, sessionId);
    await Promise.all(
      ['Page.enable', 'Runtime.enable', 'Log.enable'].map((m) => this.send(m, {}, sessionId)),
    );
    await page.setViewport(width, height);
    return page;
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    try {
      await this.send('Browser.close', {}, undefined, 5_000);
    } catch {
      this.child.kill('SIGKILL');
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    rmSync(this.profileDir, { recursive: true, force: true });
  }

  private dispatch(msg: {
    id?: number;
    result?: Record<string, unknown>;
    error?: { message: string };
    method?: string;
    params?: Record<string, unknown>;
    sessionId?: string;
  }) {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new BrowserError(`${p.method}: ${msg.error.message}`));
      else p.resolve(msg.result ?? {});
    } else if (msg.method) {
      for (const l of this.listeners.get(msg.method) ?? []) l(msg.params ?? {}, msg.sessionId);
    }
  }
}

export class Page {
  /** Console errors, uncaught exceptions and browser log errors (failed loads, blocked requests). */
  readonly errors: string[] = [];

  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {
    const mine =
      (fn: Listener): Listener =>
      (params, sid) =>
        sid === sessionId && fn(params, sid);
    browser.on(
      'Runtime.consoleAPICalled',
      mine((p) => {
        if (p.type === 'error' || p.type === 'assert') {
          const args = (p.args as { value?: unknown; description?: string }[]) ?? [];
          this.errors.push(`console.${p.type}: ${args.map((a) => a.value ?? a.description).join(' ')}`);
        }
      }),
    );
    browser.on(
      'Runtime.exceptionThrown',
      mine((p) => {
        const d = p.exceptionDetails as { text: string; exception?: { description?: string } };
        this.errors.push(`exception: ${d.exception?.description ?? d.text}`);
      }),
    );
    browser.on(
      'Log.entryAdded',
      mine((p) => {
        const e = p.entry as { level: string; text: string; url?: string };
        if (e.level === 'error') this.errors.push(`log: ${e.text}${e.url ? ` (${e.url})` : ''}`);
      }),
    );
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  setViewport(width: number, height: number, scale = 1): Promise<unknown> {
    return this.send('Emulation.setDeviceMetricsOverride', {
      width,
      height,
      deviceScaleFactor: scale,
      mobile: false,
    });
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const off = this.browser.on('Page.loadEventFired', (_p, sid) => {
        if (sid !== this.sessionId) return;
        off();
        resolve();
      });
    });
    const r = (await this.send('Page.navigate', { url })) as { errorText?: string };
    if (r.errorText) throw new BrowserError(`cannot open ${url}: ${r.errorText}`);
    await loaded;
  }

  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', {
      expression,
      returnByValue: true,
      awaitPromise: true,
    })) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (r.exceptionDetails) throw new BrowserError(`evaluate failed: ${r.exceptionDetails.text}`);
    return r.result.value;
  }

  async screenshotPng(clip: { x: number; y: number; width: number; height: number }): Promise<Buffer> {
    const r = (await this.send('Page.captureScreenshot', { format: 'png', clip: { ...clip, scale: 1 } })) as {
      data: string;
    };
    return Buffer.from(r.data, 'base64');
  }
}
