/** The driver's side of the page: Chromium's flags, opening and reloading the bench page, calling its API. */
import type { Browser, Page } from 'playwright-core';
import type { BenchPageApi } from './page/main.js';

/** The flags the e2e suite's Chromium runs with, and WebGPU allowed. */
export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const log = (line: string) => console.log(`[browser] ${line}`);

/** Calls the page's bench API (page/main.ts) with JSON-able arguments. */
export function call<K extends keyof BenchPageApi>(
  page: Page,
  name: K,
  ...args: Parameters<BenchPageApi[K]>
): Promise<Awaited<ReturnType<BenchPageApi[K]>>> {
  return page.evaluate(
    ([n, a]) => {
      const api = (window as unknown as { __benchBrowser: Record<string, (...x: unknown[]) => unknown> }).__benchBrowser;
      return api[n as string]!(...(a as unknown[]));
    },
    [name, args] as const,
  ) as Promise<Awaited<ReturnType<BenchPageApi[K]>>>;
}

export async function openPage(browser: Browser, url: string): Promise<{ page: Page; close: () => Promise<void> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  // A renderer that dies (out of memory, say) would leave a pending evaluate waiting: end the run.
  page.on('crash', () => {
    log('the page crashed (its renderer process died)');
    process.exit(2);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log(`page ${m.type()}: ${m.text()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => document.title.endsWith('ready'));
  return { page, close: () => context.close() };
}

export async function reload(page: Page): Promise<void> {
  await page.reload();
  await page.waitForFunction(() => document.title.endsWith('ready'));
}

/** The same ids in the same order. */
export const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
