// Architecture options for models bitscale did not train (Hugging Face LLaMA, Qwen2, GPT-2 checkpoints).
// A ModelConfig without `arch` is Transformer++ exactly as before; each option here switches one component.
// Plain data (JSON), so a loaded model's config can be written and read back.
import type { ConfigIssue } from './fields.ts';

/** Rotary frequency rescaling, as transformers' rope_scaling / rope_parameters (attention factor 1). */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; maxPositions: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositions: number;
    };

export interface ArchOptions {
  /** 'rms': RMSNorm (gain only); 'layer': LayerNorm with gain and bias (`*norm.bias`). */
  norm: 'rms' | 'layer';
  normEps: number;
  /** 'swiglu': w_down(silu(w_gate x) * w_up x); 'gelu': w_down(gelu_tanh(w_up x)) (GPT-2's gelu_new). */
  mlp: 'swiglu' | 'gelu';
  /** 'rope': rotary (rotate-half); 'learned': a table `pos_emb.weight` (context, d_model) added to the input. */
  positions: 'rope' | 'learned';
  ropeScaling: RopeScaling | null;
  /** Grouped-query attention: key/value heads (divides nHeads). */
  nKvHeads: number;
  /** Head size (nHeads * headSize may differ from d_model, as HF's head_dim allows). */
  headSize: number;
  /** Linear layers with a bias `<layer>.bias`, by their name inside a block, e.g. 'attn.wq'. */
  biases: string[];
}

/** RoPE inverse frequencies f_j (j < headSize/2) for a sequence of seqLen positions, as transformers computes them. */
export function ropeInvFreq(
  base: number,
  headSize: number,
  scaling: RopeScaling | null,
  seqLen: number,
): Float64Array {
  let b = base;
  if (scaling?.type === 'dynamic') {
    // Dynamic NTK: the base grows once the sequence is longer than the trained context.
    const len = Math.max(seqLen, scaling.maxPositions);
    b =
      base *
      ((scaling.factor * len) / scaling.maxPositions - (scaling.factor - 1)) ** (headSize / (headSize - 2));
  }
  const half = headSize / 2;
  // Computed in float32 as transformers does (1 / base ** (arange(0, hs, 2) / hs)).
  const f = new Float64Array(half);
  for (let j = 0; j < half; j++) f[j] = Math.fround(1 / Math.fround(b ** Math.fround((2 * j) / headSize)));
  if (scaling?.type === 'linear') for (let j = 0; j < half; j++) f[j] = Math.fround(f[j] / scaling.factor);
  if (scaling?.type === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions: old } = scaling;
    const lowWavelen = old / lowFreqFactor;
    const highWavelen = old / highFreqFactor;
    for (let j = 0; j < half; j++) {
      const wavelen = (2 * Math.PI) / f[j];
      if (wavelen > lowWavelen) f[j] = f[j] / factor;
      else if (wavelen >= highWavelen) {
        const smooth = (old / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        f[j] = (1 - smooth) * (f[j] / factor) + smooth * f[j];
      }
      f[j] = Math.fround(f[j]);
    }
  }
  return f;
}

/** Checks an `arch` section as a run config carries it (a fine-tuned Hugging Face model); adds problems to issues. */
export function checkArchOptions(
  raw: unknown,
  field: string,
  issues: ConfigIssue[],
): ArchOptions | undefined {
  const before = issues.length;
  const problem = (key: string, message: string) => issues.push({ field: `${field}.${key}`, message });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({ field, message: 'must be a mapping of architecture options' });
    return undefined;
  }
  const a = raw as Record<string, unknown>;
  const allowed: Record<string, unknown[]> = {
    norm: ['rms', 'layer'],
    mlp: ['swiglu', 'gelu'],
    positions: ['rope', 'learned'],
  };
  for (const [key, values] of Object.entries(allowed))
    if (!values.includes(a[key]))
      problem(key, `${JSON.stringify(a[key])} is not one of ${values.join(', ')}`);
  for (const key of ['nKvHeads', 'headSize'])
    if (!Number.isSafeInteger(a[key]) || (a[key] as number) < 1)
      problem(key, `${JSON.stringify(a[key])} is not a positive integer`);
  if (typeof a.normEps !== 'number' || !(a.normEps > 0))
    problem('normEps', `${JSON.stringify(a.normEps)} is not a positive number`);
  if (
    !Array.isArray(a.biases) ||
    !a.biases.every((b) => typeof b === 'string' && /^(attn|mlp)\.w\w+$/.test(b))
  )
    problem('biases', `${JSON.stringify(a.biases)} is not a list of linear layer names like attn.wq`);
  const s = a.ropeScaling as Record<string, unknown> | null | undefined;
  if (s !== null && s !== undefined && !['linear', 'dynamic', 'llama3'].includes(s.type as string))
    problem('ropeScaling.type', `${JSON.stringify(s.type)} is not linear, dynamic or llama3`);
  const known = ['norm', 'normEps', 'mlp', 'positions', 'ropeScaling', 'nKvHeads', 'headSize', 'biases'];
  for (const key of Object.keys(a))
    if (!known.includes(key)) problem(key, `unknown option (allowed: ${known.join(', ')})`);
  if (issues.length > before) return undefined;
  return { ...(a as unknown as ArchOptions), ropeScaling: (s ?? null) as RopeScaling | null };
}
