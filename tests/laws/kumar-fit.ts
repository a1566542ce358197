// Kumar et al.'s published precision-law constants, and the precision-form fit (w, a, kv) that holds them, as
// `bitscale fit --out` writes it: shared by the laws tests (forms, optimize, measured-throughput).
export const kumar = {
  A: 4299,
  B: 18060,
  E: 2.7648,
  alpha: 0.4965,
  beta: 0.4965,
  gamma_w: 2.6745,
  gamma_a: 2.2102,
  gamma_kv: 0.9578,
  C_T: 0.0598,
  gamma_D: 0.5068,
  gamma_N: 0.3439,
  gamma_post: 0.5907,
};
export const precisionFit = {
  form: { kind: 'precision', options: { parts: ['w', 'a', 'kv'] } },
  internal: [
    ...[kumar.A, kumar.B, kumar.E].map(Math.log),
    kumar.alpha,
    kumar.beta,
    ...[kumar.gamma_w, kumar.gamma_a, kumar.gamma_kv].map(Math.log),
  ],
};
