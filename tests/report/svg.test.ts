import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChart } from '../../src/report/svg/chart.ts';
import { colorMap } from '../../src/report/svg/colors.ts';
import { formatTick, makeScale, niceLinearTicks, niceLogTicks } from '../../src/report/svg/scale.ts';

test('linear ticks step by 1, 2 or 5 times a power of ten', () => {
  assert.deepEqual(niceLinearTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceLinearTicks(2.71, 3.49, 4), [2.8, 3, 3.2, 3.4]);
  assert.deepEqual(niceLinearTicks(-7, 13, 4), [-5, 0, 5, 10]);
});

test('log ticks: powers of ten on long ranges, 1-2-5 on short ones', () => {
  assert.deepEqual(niceLogTicks(5e5, 2e9), [1e6, 1e7, 1e8, 1e9]);
  assert.deepEqual(niceLogTicks(1.5e9, 6e9), [2e9, 3e9, 4e9, 5e9, 6e9]);
  assert.deepEqual(niceLogTicks(3.42, 4.26), [3.6, 3.8, 4, 4.2]);
  assert.deepEqual(niceLogTicks(3, 40), [5, 10, 20]);
});

test('scales map the padded domain onto the pixel range, log scales in log space', () => {
  const s = makeScale([10, 1000], 0, 100, true);
  assert.ok(s(10) > 0 && s(1000) < 100);
  assert.ok(Math.abs(s(100) - 50) < 1e-9, 'the geometric middle maps to the pixel middle');
  const y = makeScale([0, 10], 300, 0, false);
  assert.ok(y(0) > y(10), 'an inverted pixel range flips the axis');
  assert.deepEqual(
    [formatTick(3e7), formatTick(20000), formatTick(2.5e9), formatTick(0.25)],
    ['30M', '20k', '2.5G', '0.25'],
  );
});

test('a chart has its title, axis labels, one path per line series, markers and a legend', () => {
  const svg = renderChart({
    title: 'Loss & N',
    xLabel: 'N',
    yLabel: 'loss',
    xLog: true,
    series: [
      {
        name: 'fp32',
        style: 'points',
        points: [
          { x: 1e6, y: 3 },
          { x: 1e7, y: 2.5, yLo: 2.4, yHi: 2.6 },
        ],
      },
      {
        name: 'fp32 fit',
        group: 'fp32',
        style: 'line',
        hideInLegend: true,
        points: [
          { x: 1e6, y: 3.1 },
          { x: 1e7, y: 2.4 },
        ],
      },
      {
        name: 'int4',
        style: 'line',
        points: [
          { x: 1e6, y: 3.5 },
          { x: 1e7, y: 2.9 },
          { x: -1, y: 2 },
        ],
      },
    ],
    markers: [{ x: 3e6, label: 'optimum' }],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="640" height="380"/);
  assert.ok(svg.includes('>Loss &amp; N</text>'));
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.equal((svg.match(/<circle /g) ?? []).length, 2);
  assert.equal((svg.match(/class="errorbar"/g) ?? []).length, 1);
  assert.equal((svg.match(/class="marker"/g) ?? []).length, 1);
  // Legend: fp32 and int4 only; the fit shares fp32's color.
  const colors = colorMap(['fp32', 'int4']);
  assert.equal((svg.match(new RegExp(`stroke="${colors.get('fp32')}" stroke-width`, 'g')) ?? []).length, 1);
  assert.ok(svg.includes('>fp32</text>') && svg.includes('>int4</text>') && !svg.includes('fp32 fit'));
  assert.ok(!/NaN|Infinity/.test(svg), 'points outside a log axis are dropped, not drawn at NaN');
});
