// The explorer page in headless Chromium: moving a slider changes the predicted loss, and the value the
// page shows equals `bitscale predict` for the same inputs; a CSV fitted in the page gives a new law.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { fitLaw } from '../../src/laws/fit.ts';
import { kumarForm } from '../../src/laws/forms/kumar.ts';
import { Browser, findChromium } from '../../src/report/browser.ts';
import { bundleLaws, explorerHtml } from '../../src/report/explorer.ts';
import { synthesize } from '../laws/synthesize.ts';

const skip = !findChromium() && process.env.BITSCALE_SKIP_BROWSER === '1';

test('moving a slider shows the loss `bitscale predict` gives for the same inputs', { skip }, async () => {
  const form = kumarForm('ptq');
  const truth = {
    A: 4299,
    B: 18060,
    E: 2.7648,
    alpha: 0.4965,
    beta: 0.4965,
    C_T: 0.0598,
    gamma_D: 0.5068,
    gamma_N: 0.3439,
    gamma_post: 0.5907,
  };
  const data = synthesize(
    form,
    truth,
    { N: [3e7, 1.1e8, 2.2e8], D: [1.5e9, 1e10, 2.6e10], Ppost: [3, 4, 8] },
    0.003,
    3,
  );
  const fit = fitLaw(form, data, { bootstrap: 20, seed: 1, maxStarts: 64 });
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-explorer-'));
  const fitPath = join(dir, 'fit.json');
  writeFileSync(fitPath, JSON.stringify(fit));
  const page = join(dir, 'explorer.html');
  writeFileSync(page, explorerHtml('test', [{ title: 'delta_PTQ law', fit }], await bundleLaws()));

  const browser = await Browser.launch();
  try {
    const tab = await browser.newPage();
    await tab.goto(pathToFileURL(page).href);
    const read = () =>
      tab.evaluate<{ loss: string; interval: string; delta: string; point: string }>(
        `({ loss: document.getElementById('loss').textContent, interval: document.getElementById('interval').textContent,
            delta: document.getElementById('delta-ptq').textContent, point: document.getElementById('results').dataset.point })`,
      );
    const before = await read();
    // Move the N slider and the P_post slider as a user would (value, then an input event).
    await tab.evaluate(`(() => {
      for (const [id, v] of [['N', '8.3'], ['Ppost', '4']]) {
        const s = document.getElementById(id); s.value = v; s.dispatchEvent(new Event('input'));
      }
    })()`);
    const after = await read();
    assert.deepEqual(tab.errors, []);
    assert.notEqual(after.loss, before.loss, 'the slider moves the prediction');
    const point = JSON.parse(after.point) as Record<string, number>;
    assert.equal(point.Ppost, 4);
    const cli = execFileSync(
      process.execPath,
      [
        'bin/bitscale.mjs',
        'predict',
        '--fit',
        fitPath,
        '--N',
        String(point.N),
        '--D',
        String(point.D),
        '--Ppost',
        '4',
      ],
      { encoding: 'utf8' },
    );
    const [, loss, lo, hi] = cli.match(/loss ([\d.]+)\s+\[([\d.]+), ([\d.]+)\]/) ?? [];
    assert.equal(after.loss, loss, `page ${after.loss} vs CLI: ${cli}`);
    assert.equal(after.interval, `[${lo}, ${hi}]`);
    assert.ok(Number(after.delta) > 0, `delta_PTQ ${after.delta}`);

    // A CSV fitted in the page becomes a law of the page.
    const csv = [
      'N,D,loss',
      ...data.rows.map((_, i) => `${data.columns.N[i]},${data.columns.D[i]},${data.loss[i]}`),
    ].join('\n');
    await tab.evaluate(
      `(() => { document.getElementById('form').value = 'E + A/N^alpha + B/D^beta'; bitscaleFitCsv(${JSON.stringify(csv)}); })()`,
    );
    const status = await tab.evaluate<string>(`document.getElementById('fit-status').textContent`);
    assert.match(status, /^fitted on 27 runs/);
    const fitted = await read();
    assert.match(fitted.loss, /^\d+\.\d{4}$/);
  } finally {
    await browser.close();
  }
});
