// Synthetic runs for recovery and diagnostics tests: a form evaluated at known parameters on a grid, with
// log-normal noise.
import type { Dataset } from '../../src/laws/dataset.ts';
import type { Form } from '../../src/laws/form.ts';
import { seededRng } from '../../src/laws/rng.ts';

/** Points on a grid of the form's variables, loss = law * exp(noise), noise ~ N(0, sigma^2). */
export function synthesize(
  form: Form,
  truth: Record<string, number>,
  grid: Record<string, number[]>,
  sigma: number,
  seed: number,
): Dataset {
  let points: Record<string, number>[] = [{}];
  for (const v of form.variables) points = points.flatMap((pt) => grid[v].map((x) => ({ ...pt, [v]: x })));
  return synthesizeAt(form, truth, points, sigma, seed);
}

/** The same at given points (any design, e.g. D = 100 N). */
export function synthesizeAt(
  form: Form,
  truth: Record<string, number>,
  points: readonly Record<string, number>[],
  sigma: number,
  seed: number,
): Dataset {
  const rng = seededRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const n = points.length;
  const columns = Object.fromEntries(
    form.variables.map((v) => [v, Float64Array.from(points, (pt) => pt[v])]),
  );
  const theta = Float64Array.from(form.params, (q) =>
    q.space === 'log' ? Math.log(truth[q.name]) : truth[q.name],
  );
  const logLoss = new Float64Array(n);
  form
    .bind(
      form.variables.map((v) => columns[v]),
      n,
    )
    .logPredict(theta, logLoss);
  const loss = logLoss.map((l) => Math.exp(l + sigma * gauss()));
  return { n, columns, loss, rows: points.map((_, i) => i + 1) };
}
