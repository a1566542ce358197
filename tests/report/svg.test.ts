import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChart } from '../../src/report/svg/chart.ts';
import { colorMap, rankColor } from '../../src/report/svg/colors.ts';
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

test('rank colors run from blue (first) to red (last)', () => {
  assert.equal(rankColor(0, 5), 'hsl(240, 75%, 45%)');
  assert.equal(rankColor(4, 5), 'hsl(0, 75%, 45%)');
  assert.equal(rankColor(0, 1), 'hsl(240, 75%, 45%)');
});

test('log axes below 1 get ticks with negative exponents', () => {
  assert.deepEqual(niceLogTicks(3e-5, 2e-1), [1e-4, 1e-3, 1e-2, 1e-1]);
  assert.deepEqual(niceLogTicks(0.011, 0.3), [0.02, 0.05, 0.1, 0.2]);
  assert.deepEqual([formatTick(1e-4), formatTick(1e-3), formatTick(0.02)], ['1e-4', '0.001', '0.02']);
  const svg = renderChart({
    title: 'drift',
    xLabel: 'width',
    yLabel: 'drift',
    xLog: true,
    yLog: true,
    series: [
      {
        name: 'a',
        points: [
          { x: 10, y: 1e-1 },
          { x: 1000, y: 1e-4 },
        ],
      },
    ],
  });
  assert.ok(svg.includes('>1e-4</text>') && svg.includes('>0.01</text>'));
});

test('series colors and line widths can be fixed; the legend can sit inside the plot or be left out', () => {
  const series = [
    {
      name: 'task rank 1',
      color: rankColor(0, 2),
      strokeWidth: 1,
      style: 'line' as const,
      points: [
        { x: 1, y: 1 },
        { x: 2, y: 0.5 },
      ],
    },
    {
      name: 'a fairly long legend name: slope -0.500 [-0.600, -0.400]',
      style: 'both' as const,
      points: [
        { x: 1, y: 2 },
        { x: 2, y: 1 },
      ],
    },
  ];
  const right = renderChart({ title: 't', xLabel: 'x', yLabel: 'y', series });
  assert.ok(right.includes(`stroke="${rankColor(0, 2)}" stroke-width="1"`));
  // A series without a fixed color takes the palette's first color, not a slot after the fixed one.
  assert.ok(right.includes(`stroke="${colorMap(['x']).get('x')}" stroke-width="1.8"`));
  assert.ok(!right.includes('class="legend"'));
  const inside = renderChart({ title: 't', xLabel: 'x', yLabel: 'y', series, legend: 'inside' });
  const box = inside.match(/<rect class="legend" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/);
  assert.ok(box, 'an inside legend has a backing box');
  assert.ok(Number(box[1]) + Number(box[2]) <= 640, 'the inside legend stays within the chart');
  assert.ok(inside.includes('>task rank 1</text>'));
  const none = renderChart({ title: 't', xLabel: 'x', yLabel: 'y', series, legend: 'none' });
  assert.ok(!none.includes('>task rank 1</text>') && !none.includes('class="legend"'));
});
