// OneBit end to end at CPU size: a teacher trained for a few hundred steps, 1-bit students distilled from it
// for 80 steps, the packed student read back and scored, and the bad inputs a user meets.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import '../../src/backends/index.ts';
import { f16BitsToF32 } from '../../src/base/half.ts';
import { forward, type Params } from '../../src/nn/transformer.ts';
import { Decoder, packedDecoderWeights } from '../../src/onebit/decode.ts';
import { distillOnebit, type OnebitDistillResult } from '../../src/onebit/distill-run.ts';
import { OneBitError, TeacherRunError } from '../../src/onebit/errors.ts';
import { unpackMatrix } from '../../src/onebit/packed.ts';
import { readPackedModel } from '../../src/onebit/packed-file.ts';
import { openPackedModel, packRun } from '../../src/onebit/packed-run.ts';
import { evaluatePtq } from '../../src/ptq/evaluate-ptq.ts';
import * as T from '../../src/tensor/index.ts';
import { evaluate } from '../../src/train/evaluate.ts';
import { train } from '../../src/train/trainer.ts';
import { smallData, tinyConfig } from '../train/helpers.ts';

const backend = 'backend' in T.tryBackend('cpu') ? 'cpu' : 'js';
const root = mkdtempSync(join(tmpdir(), 'onebit-distill-'));
const teacherDir = join(root, 'teacher');
const studentTokens = 16 * 32 * 80;
const student = (name: string, init: 'svid-nmf' | 'random', extra = {}) =>
  distillOnebit({
    teacher: teacherDir,
    outDir: join(root, name),
    tokens: studentTokens,
    init,
    backend,
    data: smallData(),
    train: { lr: 3e-3, warmupSteps: 5, checkpointEvery: 0 },
    ...extra,
  });

let svid: OnebitDistillResult;
before(() => {
  const config = tinyConfig({ train: { tokens: 16 * 32 * 400, checkpointEvery: 0 } });
  const summary = train(config, { outDir: teacherDir, backend, data: smallData() });
  assert.equal(summary.status, 'done');
  svid = student('svid', 'svid-nmf');
});

test(`a student distilled from its SVID start beats random init and RTN 1-bit at the same tokens (${backend})`, () => {
  const random = student('random', 'random');
  const rtn = evaluatePtq(
    teacherDir,
    { format: 'binary', method: 'rtn', calibrationTokens: 1024 },
    { backend },
  );
  const s = svid.student.valLoss!;
  // Measured: teacher 3.57, SVID 3.91, random 4.09, RTN 1-bit 4.23 nats/token.
  assert.ok(s < random.student.valLoss! - 0.08, `SVID ${s} vs random ${random.student.valLoss}`);
  assert.ok(s < rtn.valLoss - 0.15, `SVID ${s} vs RTN 1-bit ${rtn.valLoss}`);
  assert.ok(s > svid.teacher.valLoss, '1 bit per weight does not beat its own teacher here');
  assert.equal(rtn.baseValLoss, svid.teacher.valLoss, 'teacher scored on the same validation tokens');
  assert.equal(svid.student.tokens, studentTokens);
  const r = svid.retention!;
  const uniform = Math.log(512);
  assert.ok(Math.abs(r.gainKept - (uniform - s) / (uniform - svid.teacher.valLoss)) < 1e-12);
  assert.ok(r.gainKept > 0.5 && r.gainKept < 1);
  assert.ok(svid.student.svidRelativeError! > 0 && svid.student.svidRelativeError! < 1);
  assert.equal(random.student.svidRelativeError, null);
  const saved = JSON.parse(readFileSync(join(root, 'svid', 'onebit.json'), 'utf8'));
  assert.equal(saved.student.valLoss, s);
});

test('the packed student holds exactly the bits counted and decodes to the student that was evaluated', () => {
  const packed = svid.packed!;
  const file = readFileSync(packed.path);
  const header = Number(file.readBigUInt64LE(0));
  assert.equal((file.length - 8 - header) * 8, packed.totalBits);
  // Linear layers: 1 bit per weight plus fp16 g and h: (rows * cols + 16 (rows + cols)) / (rows * cols).
  assert.ok(
    packed.linearBitsPerWeight > 1 && packed.linearBitsPerWeight < 2,
    `${packed.linearBitsPerWeight}`,
  );
  const model = readPackedModel(packed.path);
  const config = JSON.parse(readPackedMetadata(packed.path)['bitscale.model']);
  assert.equal(config.onebit, true);
  T.tidy(() => {
    const be = T.getBackend(backend);
    const params: Params = new Map();
    for (const [name, l] of model.linears) {
      const base = name.replace(/\.weight$/, '');
      params.set(name, T.tensor(unpackMatrix(l.weight), [l.weight.rows, l.weight.cols], { backend: be }));
      params.set(`${base}.g`, T.tensor(l.g, [l.g.length], { backend: be }));
      params.set(`${base}.h`, T.tensor(l.h, [l.h.length], { backend: be }));
    }
    for (const [name, t] of model.dense) {
      assert.equal(t.dtype, 'F16');
      params.set(
        name,
        T.tensor(Float32Array.from(t.data as Uint16Array, f16BitsToF32), t.shape, { backend: be }),
      );
    }
    const data = smallData();
    const decoded = evaluate(config, params, data.val, 16, 8192);
    // fp16 storage of g, h, embeddings and norms moves the loss by far less than the effects measured above.
    assert.ok(
      Math.abs(decoded - svid.student.valLoss!) < 0.01,
      `packed ${decoded} vs trained ${svid.student.valLoss}`,
    );
  });
  // `bitscale sample`'s decoder on the file alone (config and tokenizer from its metadata) gives the logits
  // the training forward gives on the same decoded weights: the output norm is applied alike.
  const opened = openPackedModel(packed.path);
  assert.ok(opened.tokenizer, 'the packed student carries its tokenizer');
  const tokens = Array.from(smallData().val.subarray(0, 12), Number);
  const decoder = new Decoder(packedDecoderWeights(opened.config, opened.model, 'exact'));
  const got = decoder.forward(tokens);
  T.tidy(() => {
    const be = T.getBackend(backend);
    const params: Params = new Map();
    for (const [name, l] of opened.model.linears) {
      const base = name.replace(/\.weight$/, '');
      params.set(name, T.tensor(unpackMatrix(l.weight), [l.weight.rows, l.weight.cols], { backend: be }));
      params.set(`${base}.g`, T.tensor(l.g, [l.g.length], { backend: be }));
      params.set(`${base}.h`, T.tensor(l.h, [l.h.length], { backend: be }));
    }
    for (const [name, t] of opened.model.dense)
      params.set(
        name,
        T.tensor(Float32Array.from(t.data as Uint16Array, f16BitsToF32), t.shape, { backend: be }),
      );
    const input = T.tensor(tokens, [1, tokens.length], { dtype: 'i32', backend: be });
    const logits = forward(opened.config, params, input, { train: false }).toArray();
    const V = opened.config.vocabSize;
    const want = logits.slice((tokens.length - 1) * V);
    for (let i = 0; i < V; i++)
      assert.ok(
        Math.abs(got[i] - want[i]) < 1e-3 + 1e-3 * Math.abs(want[i]),
        `logit ${i}: ${got[i]} vs ${want[i]}`,
      );
  });
});

test('bitscale pack of a student run packs its own signs and value vectors, as the distillation wrote them', () => {
  const out = join(root, 'repacked.safetensors');
  packRun(join(root, 'svid'), out);
  const again = readPackedModel(out);
  const first = readPackedModel(svid.packed!.path);
  assert.deepEqual([...again.linears.keys()].sort(), [...first.linears.keys()].sort());
  for (const [name, l] of first.linears) {
    assert.deepEqual(again.linears.get(name)!.weight.codes, l.weight.codes, name);
    assert.deepEqual(again.linears.get(name)!.g, l.g, `${name}.g`);
  }
  assert.ok(![...again.dense.keys()].some((n) => /\.[gh]$/.test(n)), 'no value vector left dense');
});

function readPackedMetadata(path: string): Record<string, string> {
  const file = readFileSync(path);
  const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString('utf8'));
  return header.__metadata__;
}

test('bad teachers and students are typed errors naming the path and the mismatch', () => {
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const unfinished = join(root, 'unfinished');
  train(tinyConfig({ train: { tokens: 16 * 32 * 20, checkpointEvery: 5 } }), {
    outDir: unfinished,
    backend,
    data: smallData(),
    stopAfterStep: 10,
  });
  const cases: [string, () => unknown, RegExp][] = [
    [
      'missing',
      () => distillOnebit({ teacher: join(root, 'nope'), outDir: join(root, 'x') }),
      /nope.*not a folder/,
    ],
    [
      'empty',
      () => distillOnebit({ teacher: empty, outDir: join(root, 'x') }),
      /empty.*not a run folder.*config\.json/,
    ],
    [
      'unfinished',
      () => distillOnebit({ teacher: unfinished, outDir: join(root, 'x') }),
      /unfinished.*not finished/,
    ],
    [
      'shape',
      () => distillOnebit({ teacher: teacherDir, outDir: join(root, 'x'), model: { dModel: 48, nHeads: 2 } }),
      /teacher.*tok_emb\.weight has shape \[512,48\], the teacher's is \[512,32\]/,
    ],
  ];
  for (const [what, run, message] of cases)
    assert.throws(run, (e: unknown) => e instanceof TeacherRunError && message.test(e.message), what);
  writeFileSync(join(unfinished, 'summary.json'), '{"status": "diverged", "valLoss": null}');
  assert.throws(() => distillOnebit({ teacher: unfinished, outDir: join(root, 'x') }), /status "diverged"/);
  assert.throws(
    () => distillOnebit({ teacher: teacherDir, outDir: join(root, 'x'), init: 'svid-pca' as 'random' }),
    (e: unknown) => e instanceof OneBitError && /init.*svid-pca.*svid-nmf, svid-svd, random/.test(e.message),
  );
  assert.throws(
    () => distillOnebit({ teacher: teacherDir, outDir: join(root, 'x'), loss: 'mse' as 'ce' }),
    (e: unknown) => e instanceof OneBitError && /loss.*mse/.test(e.message),
  );
});
