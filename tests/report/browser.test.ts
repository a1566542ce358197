// Opens the report in headless Chromium: every chart rendered (non-zero size, marks drawn), no console
// errors; and the PNGs of the charts are real images. Chromium comes from Debian's package; when it is
// missing this test fails (CI installs it) unless BITSCALE_SKIP_BROWSER=1 says to skip it locally.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findChromium } from '../../src/report/browser.ts';
import { checkReportInBrowser, writeReport } from '../../src/report/write.ts';
import { sampleInput } from './fixtures/sample-input.ts';

const skip = !findChromium() && process.env.BITSCALE_SKIP_BROWSER === '1';

function pngSize(path: string): { width: number; height: number } {
  const b = readFileSync(path);
  assert.equal(b.subarray(1, 4).toString('latin1'), 'PNG', `${path} is not a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

test('the report renders in headless Chromium: every chart drawn, no console errors', { skip }, async () => {
  assert.ok(
    findChromium(),
    'chromium is not installed: sudo apt-get install chromium (or set BITSCALE_SKIP_BROWSER=1 locally)',
  );
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-report-'));
  const out = await writeReport(sampleInput(), dir);
  const check = await checkReportInBrowser(out.html);
  assert.deepEqual(check.errors, []);
  assert.deepEqual(
    check.charts.map((c) => c.id),
    [
      'loss-vs-N',
      'loss-vs-D',
      'loss-vs-bits',
      'fitted-vs-observed',
      'residuals',
      'delta-ptq-vs-D',
      'loss-vs-precision',
    ].map((id) => `chart-${id}`),
  );
  for (const c of check.charts) {
    assert.ok(c.width > 100 && c.height > 100, `${c.id} has size ${c.width}x${c.height}`);
    assert.ok(c.marks > 0, `${c.id} draws nothing`);
  }
  assert.equal(out.pngs.length, 7);
  // At 2x the SVG's own size, which grows past 640x380 only to fit its legend.
  for (const png of out.pngs) {
    const svg = readFileSync(png.replace(/\.png$/, '.svg'), 'utf8');
    const [, w, h] = svg.match(/<svg [^>]*width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/) ?? [];
    assert.deepEqual(
      pngSize(png),
      { width: Math.ceil(2 * Number(w)), height: Math.ceil(2 * Number(h)) },
      png,
    );
    assert.ok(Number(w) >= 640 && Number(h) >= 380);
  }
});

test('the browser check does catch console errors', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-report-'));
  const page = join(dir, 'bad.html');
  writeFileSync(
    page,
    '<!doctype html><figure id="x"><svg width="10" height="10"></svg></figure><script>console.error("boom"); undefinedFn();</script>',
  );
  const check = await checkReportInBrowser(page);
  assert.ok(
    check.errors.some((e) => e.includes('boom')),
    JSON.stringify(check.errors),
  );
  assert.ok(
    check.errors.some((e) => e.includes('undefinedFn')),
    JSON.stringify(check.errors),
  );
  assert.deepEqual(check.charts, [{ id: 'x', width: 10, height: 10, marks: 0 }]);
});
