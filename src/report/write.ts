// Writes a report directory: index.html (self-contained), charts/<id>.svg, and charts/<id>.png rendered
// by headless Chromium (skipped, with the reason returned, when Chromium is not installed).

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { Browser, findChromium } from './browser.ts';
import { bundleLaws, explorerHtml } from './explorer.ts';
import { renderReport } from './html.ts';
import type { ReportInput } from './types.ts';

export interface WrittenReport {
  html: string;
  /** explorer.html, when the input has fits for it. */
  explorer?: string;
  /** Why the explorer was not written although there were fits for it. */
  explorerSkipped?: string;
  svgs: string[];
  pngs: string[];
  /** Why PNGs were not written, if they were not. */
  pngSkipped?: string;
}

export async function writeReport(
  input: ReportInput,
  dir: string,
  options: { png?: boolean } = {},
): Promise<WrittenReport> {
  const { html, charts } = renderReport(input);
  const out: WrittenReport = { html: join(dir, 'index.html'), svgs: [], pngs: [] };
  writeFileAtomic(out.html, html);
  if (input.explorer && input.explorer.length > 0) {
    // The page carries the laws module, bundled by esbuild (installed with bitscale's npm packages); a bundled
    // CLI on a host without them writes the report without its explorer, and says so.
    let laws: string | null = null;
    try {
      laws = await bundleLaws();
    } catch (e) {
      out.explorerSkipped = `the laws module could not be bundled for the page (${(e as Error).message.split('\n')[0]})`;
    }
    if (laws !== null) {
      out.explorer = join(dir, 'explorer.html');
      writeFileAtomic(out.explorer, explorerHtml(input.title, input.explorer, laws));
    }
  }
  for (const c of charts) {
    const path = join(dir, 'charts', `${c.id}.svg`);
    writeFileAtomic(path, `<?xml version="1.0" encoding="UTF-8"?>\n${c.svg}\n`);
    out.svgs.push(path);
  }
  if (options.png === false) out.pngSkipped = 'not asked for';
  else if (!findChromium()) out.pngSkipped = 'chromium is not installed (sudo apt-get install chromium)';
  else out.pngs = await svgsToPngs(out.svgs);
  return out;
}

/** Renders each SVG file to a PNG beside it, at 2x for sharp text. */
export async function svgsToPngs(svgPaths: string[], scale = 2): Promise<string[]> {
  const browser = await Browser.launch();
  try {
    const page = await browser.newPage();
    const written: string[] = [];
    for (const svg of svgPaths) {
      await page.goto(pathToFileURL(svg).href);
      const size = await page.evaluate<{ width: number; height: number }>(
        '(() => { const r = document.documentElement.getBoundingClientRect(); return { width: Math.ceil(r.width), height: Math.ceil(r.height) }; })()',
      );
      await page.setViewport(size.width, size.height, scale);
      const png = await page.screenshotPng({ x: 0, y: 0, ...size });
      const path = svg.replace(/\.svg$/, '.png');
      writeFileAtomic(path, png);
      written.push(path);
    }
    return written;
  } finally {
    await browser.close();
  }
}

/** What a browser sees when it opens the report: each chart's size and drawn elements, and any errors. */
export interface BrowserCheck {
  charts: { id: string; width: number; height: number; marks: number }[];
  errors: string[];
}

export async function checkReportInBrowser(htmlPath: string): Promise<BrowserCheck> {
  const browser = await Browser.launch();
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(htmlPath).href);
    const charts = await page.evaluate<
      BrowserCheck['charts']
    >(`[...document.querySelectorAll('figure > svg')].map((s) => {
      const r = s.getBoundingClientRect();
      return { id: s.parentElement.id, width: r.width, height: r.height,
               marks: s.querySelectorAll('g.series circle, g.series path, g.series polygon').length };
    })`);
    return { charts, errors: [...page.errors] };
  } finally {
    await browser.close();
  }
}
