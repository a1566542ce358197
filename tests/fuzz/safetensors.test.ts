// Thousands of corrupted safetensors files: each is read back as valid tensors taken from inside the file, or
// refused with a CheckpointError naming the file. Never another exception, never bytes from outside the file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CheckpointError,
  parseSafetensors,
  readSafetensors,
  type SafeTensor,
  writeSafetensors,
} from '../../src/io/safetensors.ts';
import { int, mutateBytes, mutateValue, pick, rng } from './mutate.ts';

const PATH = 'fuzz/model.safetensors';

/** A file as writeSafetensors lays it out, from a header object and the data section. */
function assemble(header: unknown, data: Uint8Array, headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const data = Uint8Array.from({ length: 4 * 6 + 2 * 4 + 3 + 4 }, (_, i) => (i * 37 + 11) & 0xff);
const baseHeader = {
  'w.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
  'h.bias': { dtype: 'BF16', shape: [4], data_offsets: [24, 32] },
  empty: { dtype: 'F32', shape: [0, 5], data_offsets: [32, 32] },
  codes: { dtype: 'U8', shape: [3], data_offsets: [32, 35] },
  step: { dtype: 'I32', shape: [], data_offsets: [35, 39] },
  __metadata__: { format: 'pt', 'bitscale.sha256': createHash('sha256').update(data).digest('hex') },
};

/** Accepted files must hold exactly the bytes their header points at, inside the file, with matching sizes. */
function checkAccepted(file: Uint8Array, tensors: Map<string, SafeTensor>): void {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
  const start = 8 + length;
  for (const [name, t] of tensors) {
    const [from, to] = header[name].data_offsets as [number, number];
    assert.ok(0 <= from && from <= to && start + to <= file.length, `${name} lies inside the file`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    assert.deepEqual(bytes, file.subarray(start + from, start + to));
    assert.equal(
      t.data.length,
      t.shape.reduce((a, b) => a * b, 1),
    );
  }
}

function parseOrTypedError(file: Uint8Array): 'accepted' | 'refused' {
  try {
    checkAccepted(file, parseSafetensors(file, PATH).tensors);
    return 'accepted';
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.ok(e instanceof CheckpointError, `not a CheckpointError: ${(e as Error)?.stack ?? e}`);
    assert.equal(e.path, PATH);
    assert.ok(e.message.startsWith(`${PATH}: `));
    return 'refused';
  }
}

test('the unmutated file reads back', () => {
  const file = assemble(baseHeader, data);
  const { tensors, metadata } = parseSafetensors(file, PATH);
  assert.deepEqual([...tensors.keys()].sort(), ['codes', 'empty', 'h.bias', 'step', 'w.weight']);
  assert.equal(metadata.format, 'pt');
  checkAccepted(file, tensors);
});

test('4000 byte-level mutations: only valid tensors or a CheckpointError', () => {
  const r = rng(20261128);
  const base = assemble(baseHeader, data);
  const outcome = { accepted: 0, refused: 0 };
  for (let k = 0; k < 4000; k++) {
    let file = base;
    for (let m = 1 + int(r, 3); m > 0; m--) file = mutateBytes(r, file);
    outcome[parseOrTypedError(file)]++;
  }
  assert.ok(outcome.refused > 3000, `most corruptions are caught (${JSON.stringify(outcome)})`);
});

test('3000 header edits (length field kept right, checksum dropped): only valid tensors or a CheckpointError', () => {
  const r = rng(7);
  const { __metadata__, ...withoutChecksum } = baseHeader;
  const outcome = { accepted: 0, refused: 0 };
  for (let k = 0; k < 3000; k++) {
    let header: unknown = withoutChecksum;
    for (let m = 1 + int(r, 2); m > 0; m--) header = mutateValue(r, header);
    // Sometimes shorten or lengthen the data too, so that shifted offsets can line up with the file size.
    const cut = pick(r, [0, 0, 1, 4, -4]);
    const body = cut >= 0 ? data.subarray(0, data.length - cut) : Uint8Array.from([...data, 1, 2, 3, 4]);
    outcome[parseOrTypedError(assemble(header, body))]++;
  }
  assert.ok(outcome.accepted > 0 && outcome.refused > 2000, JSON.stringify(outcome));
});

test('each way a header can be wrong is refused, naming the file and the tensor', () => {
  const w = baseHeader['w.weight'];
  const { __metadata__, ...plain } = baseHeader;
  const cases: [unknown, RegExp, string?][] = [
    [null, /corrupt header: null, expected a JSON object/],
    [[1, 2], /corrupt header/],
    [{ ...plain, 'w.weight': null }, /entry is null/, 'w.weight'],
    [{ ...plain, 'w.weight': { ...w, shape: '2,3' } }, /shape "2,3" is not a list/, 'w.weight'],
    [{ ...plain, 'w.weight': { dtype: 'F32', shape: [2, 3] } }, /data_offsets missing/, 'w.weight'],
    [{ ...plain, 'w.weight': { ...w, data_offsets: [-2, 0] } }, /data_offsets \[-2,0\]/, 'w.weight'],
    [{ ...plain, 'w.weight': { ...w, data_offsets: [24, 0] } }, /0 <= begin <= end/, 'w.weight'],
    [{ ...plain, 'w.weight': { ...w, data_offsets: [0, 1e300] } }, /data_offsets/, 'w.weight'],
    [
      { ...plain, 'w.weight': { ...w, dtype: 'F64' } },
      /dtype "F64" is not supported \(allowed: F32/,
      'w.weight',
    ],
    [{ ...plain, 'w.weight': { ...w, dtype: 'constructor' } }, /dtype "constructor"/, 'w.weight'],
    [{ ...plain, 'w.weight': { ...w, shape: [2, 2] } }, /needs 16 bytes, data_offsets give 24/, 'w.weight'],
    [{ ...plain, 'w.weight': { ...w, shape: [2 ** 40, 2 ** 40] } }, /needs more than/, 'w.weight'],
    [{ ...plain, 'w.weight': { ...w, extra: 1 } }, /unknown field 'extra'/, 'w.weight'],
    [
      { ...plain, 'h.bias': { ...plain['h.bias'], data_offsets: [20, 28] } },
      /overlap the previous/,
      'h.bias',
    ],
    [
      { ...plain, 'w.weight': { ...w, shape: [5], data_offsets: [4, 24] } },
      /leave a gap after byte 0/,
      'w.weight',
    ],
    [
      { ...plain, step: { dtype: 'U8', shape: [1], data_offsets: [35, 36] } },
      /data section is 39 bytes, the tensors cover 36/,
    ],
    [{ ...plain, __metadata__: { n: 3 } }, /__metadata__\.n is 3, expected a string/],
    [{ ...baseHeader, __metadata__: { 'bitscale.sha256': '00' } }, /checksum mismatch/],
  ];
  for (const [header, message, tensor] of cases) {
    assert.throws(
      () => parseSafetensors(assemble(header, data), PATH),
      (e: unknown) =>
        e instanceof CheckpointError && e.path === PATH && e.tensor === tensor && message.test(e.message),
      `${JSON.stringify(header)?.slice(0, 80)} -> ${message}`,
    );
  }
  const huge = assemble(plain, data);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  assert.throws(() => parseSafetensors(huge, PATH), /exceeds the 100000000-byte limit/);
  assert.throws(() => parseSafetensors(huge.subarray(0, 5), PATH), /truncated: 5 bytes/);
  assert.throws(() => parseSafetensors(assemble(plain, data, '{"a": '), PATH), /not UTF-8 JSON/);
});

test('on disk: a written file reads back; a truncated or missing one is a CheckpointError naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-st-'));
  const path = join(dir, 'model.safetensors');
  const w = Float32Array.from([1, 2, 3, 4, 5, 6]);
  writeSafetensors(path, new Map([['w', { dtype: 'F32', shape: [2, 3], data: w }]]), { note: 'x' });
  const back = readSafetensors(path);
  assert.deepEqual(back.tensors.get('w')?.data, w);
  assert.equal(back.metadata.note, 'x');
  const bytes = new Uint8Array(readFileSync(path));
  writeFileSync(path, bytes.subarray(0, bytes.length - 3));
  assert.throws(
    () => readSafetensors(path),
    (e: unknown) => e instanceof CheckpointError && e.path === path && e.tensor === 'w',
  );
  assert.throws(
    () => readSafetensors(join(dir, 'nope.safetensors')),
    (e: unknown) => e instanceof CheckpointError && /cannot read/.test(e.message),
  );
  assert.throws(
    () =>
      writeSafetensors(
        path,
        new Map([['__metadata__', { dtype: 'F32', shape: [1], data: w.subarray(0, 1) }]]),
      ),
    /reserved for metadata/,
  );
});
