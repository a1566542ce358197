// Reading a transformers config.json: every key is either used, accepted as irrelevant to the forward pass,
// or refused by name; a supported key with an unsupported value is refused with its value.
import { HfModelError, show } from './errors.ts';

/** Keys transformers writes that do not change the forward pass in evaluation. */
const harmless = new Set([
  '_name_or_path',
  '_attn_implementation_autoset',
  'architectures',
  'model_type',
  'transformers_version',
  'torch_dtype',
  'dtype',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
  'initializer_range',
  'use_cache',
  'attention_dropout',
  'output_attentions',
  'output_hidden_states',
  'return_dict',
  'task_specific_params',
  'id2label',
  'label2id',
  'is_decoder',
  'tokenizer_class',
  'max_length',
  'num_beams',
  'do_sample',
]);

export class ConfigReader {
  private readonly used = new Set<string>();
  constructor(
    readonly json: Record<string, unknown>,
    readonly file: string,
  ) {}

  fail(field: string, message: string): never {
    throw new HfModelError(this.file, field, message);
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  raw(key: string): unknown {
    this.used.add(key);
    return this.json[key];
  }

  int(key: string, fallback?: number, min = 1): number {
    const v = this.raw(key) ?? fallback;
    if (!Number.isSafeInteger(v) || (v as number) < min)
      this.fail(key, `${show(v)} is not an integer >= ${min}`);
    return v as number;
  }

  number(key: string, fallback?: number): number {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      this.fail(key, `${show(v)} is not a positive number`);
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, `${show(v)} is not true or false`);
    return v;
  }

  /** A key whose only supported value is `allowed` (absent counts as the default `allowed[0]`). */
  only(key: string, allowed: unknown[], why: string): unknown {
    const v = this.raw(key);
    if (v === undefined || v === null) return allowed[0];
    if (!allowed.includes(v))
      this.fail(key, `${show(v)} is not supported (${why}; allowed: ${allowed.map(show).join(', ')})`);
    return v;
  }

  /** Marks keys as read without using them (dropout rates, fields of other tasks). */
  ignore(...keys: string[]): void {
    for (const k of keys) this.used.add(k);
  }

  /** Refuses every key neither used, ignored nor harmless: an option bitscale would silently get wrong. */
  refuseUnknown(): void {
    for (const key of Object.keys(this.json)) {
      if (!this.used.has(key) && !harmless.has(key))
        this.fail(
          key,
          `${show(this.json[key])}: bitscale does not know this option, so it cannot promise the same model`,
        );
    }
  }
}
