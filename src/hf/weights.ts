// The weight files of a Hugging Face folder: model.safetensors, or the shards a model.safetensors.index.json
// names. Headers are read and checked first (every file present, every tensor's dtype and shape as the
// config implies, nothing unknown); tensor data is then read one tensor at a time with pread and converted
// to f32, so peak memory is the model plus one tensor.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { bf16BitsToF32, f16BitsToF32 } from '../base/half.ts';
import { readSafetensorsHeader, type SafetensorsEntry } from '../io/safetensors.ts';
import { HfModelError, show } from './errors.ts';
import type { TensorMapping } from './mapping.ts';

export interface WeightIndex {
  /** tensor name -> its file and header entry. */
  tensors: Map<string, { file: string; entry: SafetensorsEntry; dataStart: number }>;
  files: string[];
}

/** Reads the headers of every weight file of `dir` (no tensor data). */
export function readWeightIndex(dir: string): WeightIndex {
  const single = join(dir, 'model.safetensors');
  const indexPath = join(dir, 'model.safetensors.index.json');
  let files: string[];
  let weightMap: Record<string, string> | null = null;
  if (existsSync(indexPath)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new HfModelError(indexPath, 'file', `not valid JSON (${(e as Error).message})`);
    }
    const map = (json as { weight_map?: unknown })?.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map))
      throw new HfModelError(indexPath, 'weight_map', `${show(map)} is not an object of tensor -> file`);
    weightMap = map as Record<string, string>;
    files = [...new Set(Object.values(weightMap))];
    for (const [tensor, file] of Object.entries(weightMap)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.'))
        throw new HfModelError(
          indexPath,
          `weight_map.${tensor}`,
          `${show(file)} is not a file name in the folder`,
        );
      if (!existsSync(join(dir, file)))
        throw new HfModelError(indexPath, `weight_map.${tensor}`, `${show(file)}: no such file in ${dir}`);
    }
  } else if (existsSync(single)) {
    files = ['model.safetensors'];
  } else {
    throw new HfModelError(
      dir,
      'weights',
      'neither model.safetensors nor model.safetensors.index.json is here',
    );
  }
  const tensors: WeightIndex['tensors'] = new Map();
  for (const file of files) {
    const path = join(dir, file);
    const header = readSafetensorsHeader(path);
    for (const entry of header.entries) {
      if (weightMap && weightMap[entry.name] !== file)
        throw new HfModelError(
          path,
          entry.name,
          `the index places this tensor in ${show(weightMap[entry.name])}, not in ${file}`,
        );
      tensors.set(entry.name, { file: path, entry, dataStart: header.dataStart });
    }
  }
  if (weightMap)
    for (const [tensor, file] of Object.entries(weightMap))
      if (!tensors.has(tensor))
        throw new HfModelError(join(dir, file), tensor, `named by ${indexPath} but not in the file`);
  return { tensors, files: files.map((f) => join(dir, f)) };
}

/** Checks that the files hold exactly the mapped tensors (up to ignorable buffers), in their shapes. */
export function checkWeights(index: WeightIndex, mappings: TensorMapping[], ignored: RegExp): void {
  const expected = new Set<string>();
  for (const m of mappings) {
    expected.add(m.hf);
    const found = index.tensors.get(m.hf);
    if (!found)
      throw new HfModelError(index.files.join(', '), m.hf, `missing (the config needs shape [${m.shape}])`);
    const { entry, file } = found;
    if (entry.shape.join(',') !== m.shape.join(','))
      throw new HfModelError(
        file,
        m.hf,
        `shape [${entry.shape}] disagrees with config.json, which implies [${m.shape}]`,
      );
    if (!['F32', 'F16', 'BF16'].includes(entry.dtype))
      throw new HfModelError(file, m.hf, `dtype ${entry.dtype} is not a float (allowed: F32, F16, BF16)`);
  }
  for (const [name, { file }] of index.tensors)
    if (!expected.has(name) && !ignored.test(name))
      throw new HfModelError(file, name, 'a tensor this architecture does not have (an unsupported option?)');
}

const CHUNK = 1 << 30;

/** The f32 values of one tensor, read from its file. */
export function readTensorF32(index: WeightIndex, name: string): Float32Array {
  const { file, entry, dataStart } = index.tensors.get(name)!;
  const bytes = entry.to - entry.from;
  const fd = openSync(file, 'r');
  try {
    const read = (target: Uint8Array) => {
      for (let done = 0; done < bytes; ) {
        const n = readSync(fd, target, done, Math.min(CHUNK, bytes - done), dataStart + entry.from + done);
        if (n === 0) throw new HfModelError(file, name, 'truncated while reading');
        done += n;
      }
    };
    if (entry.dtype === 'F32') {
      const out = new Float32Array(bytes / 4);
      read(new Uint8Array(out.buffer));
      return out;
    }
    const half = new Uint16Array(bytes / 2);
    read(new Uint8Array(half.buffer));
    const convert = entry.dtype === 'BF16' ? bf16BitsToF32 : f16BitsToF32;
    const out = new Float32Array(half.length);
    for (let i = 0; i < half.length; i++) out[i] = convert(half[i]);
    return out;
  } finally {
    closeSync(fd);
  }
}
