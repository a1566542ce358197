// Bad Hugging Face folders are refused before tensor data is read, naming the file, the field and the value.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HfModelError } from '../../src/hf/errors.ts';
import { loadHfModel, readHfConfig } from '../../src/hf/load.ts';

const root = join(import.meta.dirname, '../fixtures/hf');

/** A copy of a fixture folder whose config.json (and any other file) the test may edit. */
function copyOf(name: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'bitscale-hf-')), name);
  cpSync(join(root, name), dir, { recursive: true });
  return dir;
}

function editJson(path: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8'));
  edit(json);
  writeFileSync(path, JSON.stringify(json));
}

const refuses = (dir: string, pattern: RegExp) =>
  assert.throws(
    () => loadHfModel(dir, { backend: 'js' }),
    (e: unknown) => e instanceof HfModelError && pattern.test(e.message),
  );

test('an unknown architecture is refused by name, listing the supported ones', () => {
  const dir = copyOf('qwen2');
  editJson(join(dir, 'config.json'), (c) => {
    c.architectures = ['MambaForCausalLM'];
  });
  refuses(
    dir,
    /config\.json: architectures: "MambaForCausalLM" is not supported \(supported: LlamaForCausalLM/,
  );
});

test('unsupported options are refused naming the field and value', () => {
  const cases: [string, (c: Record<string, unknown>) => void, RegExp][] = [
    ['hidden_act', (c) => (c.hidden_act = 'gelu'), /hidden_act: "gelu" is not supported/],
    ['unknown key', (c) => (c.qk_layernorm = true), /qk_layernorm: true: bitscale does not know this option/],
    [
      'rope type',
      (c) => (c.rope_parameters = { rope_type: 'yarn', factor: 4, rope_theta: 10000 }),
      /rope_parameters\.rope_type: "yarn" is not supported/,
    ],
    ['sliding window', (c) => (c.use_sliding_window = true), /use_sliding_window: true is not supported/],
    [
      'kv heads',
      (c) => (c.num_key_value_heads = 3),
      /num_key_value_heads: 3 does not divide num_attention_heads = 4/,
    ],
  ];
  for (const [, edit, pattern] of cases) {
    const dir = copyOf('qwen2');
    editJson(join(dir, 'config.json'), edit);
    assert.throws(
      () => readHfConfig(dir),
      (e: unknown) => e instanceof HfModelError && pattern.test(e.message),
    );
  }
  const gpt2 = copyOf('gpt2');
  editJson(join(gpt2, 'config.json'), (c) => {
    c.scale_attn_by_inverse_layer_idx = true;
  });
  refuses(gpt2, /scale_attn_by_inverse_layer_idx: true is not supported/);
});

test('a shard index naming a missing file is refused before any shard is read', () => {
  const dir = copyOf('llama-tied-linearrope-sharded');
  rmSync(join(dir, 'model-00003-of-00009.safetensors'));
  refuses(
    dir,
    /model\.safetensors\.index\.json: weight_map\.\S+: "model-00003-of-00009\.safetensors": no such file/,
  );
});

test('a tokenizer that is not byte-level BPE is refused naming the field', () => {
  const dir = copyOf('gpt2');
  editJson(join(dir, 'tokenizer.json'), (t) => {
    (t.model as Record<string, unknown>).type = 'Unigram';
  });
  refuses(dir, /tokenizer\.json: model\.type: "Unigram": only byte-level BPE/);
  const metaspace = copyOf('gpt2');
  editJson(join(metaspace, 'tokenizer.json'), (t) => {
    t.pre_tokenizer = { type: 'Metaspace', replacement: '▁' };
  });
  refuses(metaspace, /pre_tokenizer is "Metaspace"; only ByteLevel is supported/);
});

test('tensor shapes that disagree with config.json are refused naming file, tensor and both shapes', () => {
  const dir = copyOf('llama-gqa-llama3rope');
  editJson(join(dir, 'config.json'), (c) => {
    c.intermediate_size = 192;
  });
  refuses(
    dir,
    /model\.safetensors: model\.layers\.0\.mlp\.gate_proj\.weight: shape \[160,64\] disagrees with config\.json, which implies \[192,64\]/,
  );
  const kv = copyOf('llama-gqa-llama3rope');
  editJson(join(kv, 'config.json'), (c) => {
    c.num_key_value_heads = 4;
  });
  refuses(kv, /k_proj\.weight: shape \[32,64\] disagrees with config\.json, which implies \[64,64\]/);
});
