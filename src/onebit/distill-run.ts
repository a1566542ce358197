// A OneBit student from a finished teacher run, end to end: open the teacher, build the student (the
// teacher's shape with OneBit linear layers), initialize it (SVID by NMF or SVD, or random), train it through
// the ordinary trainer on the teacher's data with OneBit's distillation loss (teacher forward on the same
// batch, no-grad, same backend) or plain cross-entropy, evaluate student and teacher on the same validation
// tokens, and store the student packed (1 bit per weight plus its own g, h) for `bitscale sample`.
// The run folder is a normal run (config.json, checkpoint, metrics, summary) plus:
//   onebit.json                 the distillation settings and the result below
//   student.onebit.safetensors  the packed student (src/onebit/packed-file.ts layout)
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { type PreparedData, prepareData } from '../data/index.ts';
import type { ModelConfig } from '../nn/config.ts';
import { camel } from '../nn/fields.ts';
import { type ForwardOptions, forward, lossOf, type Params } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';
import { resolveRunConfig } from '../train/config.ts';
import { evaluate } from '../train/evaluate.ts';
import { loadRun } from '../train/run.ts';
import {
  canonicalJson,
  configHash,
  type Progress,
  type TrainObjective,
  type TrainSummary,
  train,
} from '../train/trainer.ts';
import { type DistillOptions, distillLoss, type ModelOutputs, onebitDistillDefaults } from './distill.ts';
import { ONEBIT_NORM_EPS } from './linear.ts';
import { packOnebitParams } from './pack-model.ts';
import { packedModelBits, writePackedModel } from './packed-file.ts';
import { packedMetadata } from './packed-run.ts';
import { type Retention, retention } from './retention.ts';
import {
  checkStudentInit,
  checkStudentLoss,
  checkStudentShapes,
  initStudent,
  type StudentInit,
  type StudentLoss,
  studentModelOf,
} from './student.ts';
import { openTeacher } from './teacher.ts';

export const PACKED_STUDENT_FILE = 'student.onebit.safetensors';
export const ONEBIT_RESULT_FILE = 'onebit.json';
/** Packed-file metadata naming the norm on every OneBit layer's output (informative; onebit: true implies it). */
export const OUTPUT_NORM_KEY = 'bitscale.onebit.output_norm';

export interface OnebitDistillOptions {
  /** The teacher's finished run folder. */
  teacher: string;
  /** The student's run folder. */
  outDir: string;
  /** Student token budget (default: the teacher's). */
  tokens?: number;
  init?: StudentInit;
  loss?: StudentLoss;
  /** Distillation coefficients over OneBit's defaults (KL weight 1 at scale 0.01, hidden-state weight 1). */
  distill?: DistillOptions;
  /** Optimizer settings over the teacher's (lr, batchSize, warmupSteps, evalTokens, ...). */
  train?: Record<string, unknown>;
  /** Model fields over the teacher's (the shapes must still match it). */
  model?: Record<string, unknown>;
  backend?: string;
  data?: PreparedData;
  cacheDir?: string;
  onProgress?: (p: Progress) => void;
}

export interface OnebitDistillResult {
  status: TrainSummary['status'];
  /** V of the shared tokenizer (uniform guessing scores ln V: the zero of retention). */
  vocabSize: number;
  teacher: { dir: string; valLoss: number; nonEmbeddingParams: number };
  student: {
    valLoss: number | null;
    tokens: number;
    steps: number;
    init: StudentInit;
    loss: StudentLoss;
    distill: Required<DistillOptions> | null;
    svidRelativeError: number | null;
  };
  /** Student against teacher on the same validation tokens (null when the student has no loss). */
  retention: Retention | null;
  /** The packed student: exact bits of its data (value vectors g, h in fp16; embeddings and norms in fp16). */
  packed: {
    path: string;
    totalBits: number;
    parameters: number;
    bitsPerParameter: number;
    /** Bits per weight of the linear layers alone (signs + g + h). */
    linearBitsPerWeight: number;
  } | null;
  summary: TrainSummary;
}

/** Logits and the residual stream after every block: what OneBit's distillation compares. */
function outputsOf(
  model: ModelConfig,
  params: Params,
  inputs: T.Tensor,
  options: ForwardOptions,
): ModelOutputs {
  const hidden: T.Tensor[] = [];
  const logits = forward(model, params, inputs, { ...options, onBlockOutput: (_, x) => hidden.push(x) });
  return { logits, hidden };
}

export function distillOnebit(options: OnebitDistillOptions): OnebitDistillResult {
  const init = checkStudentInit(options.init ?? 'svid-nmf');
  const loss = checkStudentLoss(options.loss ?? 'distill');
  const distill = loss === 'distill' ? { ...onebitDistillDefaults, ...options.distill } : null;
  const teacher = openTeacher(options.teacher, options.backend);
  try {
    const model = studentModelOf(teacher.config.model, options.model);
    checkStudentShapes(model, teacher);
    const config = resolveRunConfig({
      model,
      data: teacher.config.data,
      // Overrides in either spelling (warmup_steps or warmupSteps) replace the teacher's setting.
      train: {
        ...teacher.config.train,
        ...Object.fromEntries(Object.entries(options.train ?? {}).map(([k, v]) => [camel(k), v])),
        ...(options.tokens ? { tokens: options.tokens } : {}),
      },
    });
    const data = options.data ?? prepareData({ ...config.data, cacheDir: options.cacheDir });
    // Set by the trainer's call of init (a resumed run still computes it, then loads its checkpoint).
    const start: { svidRelativeError: number | null } = { svidRelativeError: null };
    const objective: TrainObjective = {
      // The teacher by its config (a retrained teacher with another config is another objective).
      id: canonicalJson({
        teacher: configHash(teacher.config),
        teacherStep: teacher.step,
        init,
        loss,
        distill,
      }),
      init: (params) => {
        start.svidRelativeError = initStudent(params, teacher, init).svidRelativeError;
      },
      loss: (params, inputs, targets, forwardOptions) => {
        if (!distill) return lossOf(config.model, params, inputs, targets, forwardOptions);
        const t = T.noGrad(() =>
          outputsOf(teacher.config.model, teacher.params, inputs, {
            train: false,
            compute: forwardOptions.compute,
            productsRound: forwardOptions.productsRound,
          }),
        );
        return distillLoss(outputsOf(config.model, params, inputs, forwardOptions), t, targets, distill).loss;
      },
    };
    const summary = train(config, {
      outDir: options.outDir,
      backend: options.backend,
      data,
      cacheDir: options.cacheDir,
      objective,
      onProgress: options.onProgress,
    });
    // Both models scored on exactly the same validation tokens.
    const teacherValLoss = evaluate(
      teacher.config.model,
      teacher.params,
      data.val,
      config.train.batchSize,
      config.train.evalTokens,
    );
    const packed = summary.status === 'done' ? writePackedStudent(options.outDir, config.model) : null;
    const result: OnebitDistillResult = {
      status: summary.status,
      vocabSize: config.model.vocabSize,
      teacher: {
        dir: teacher.dir,
        valLoss: teacherValLoss,
        nonEmbeddingParams: summary.nonEmbeddingParams,
      },
      student: {
        valLoss: summary.valLoss,
        tokens: summary.tokens,
        steps: summary.steps,
        init,
        loss,
        distill,
        svidRelativeError: start.svidRelativeError,
      },
      retention:
        summary.valLoss === null ? null : retention(teacherValLoss, summary.valLoss, config.model.vocabSize),
      packed,
      summary,
    };
    if (summary.status !== 'stopped')
      writeFileAtomic(join(options.outDir, ONEBIT_RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    for (const p of teacher.params.values()) p.dispose();
  }
}

/** Packs the trained student (its checkpoint) next to it; returns its exact size. */
function writePackedStudent(dir: string, model: ModelConfig): NonNullable<OnebitDistillResult['packed']> {
  const student = loadRun(dir);
  try {
    const packed = packOnebitParams(student.params);
    const path = join(dir, PACKED_STUDENT_FILE);
    // The model config (onebit: true tells a decoder to normalize each layer's output, as OneBit's BitLinear
    // does) and the tokenizer: what `bitscale sample` needs to decode the file on its own.
    writePackedModel(path, packed, {
      metadata: {
        ...packedMetadata(model, student.tokenizer),
        [OUTPUT_NORM_KEY]: JSON.stringify({ kind: 'layernorm', affine: false, eps: ONEBIT_NORM_EPS }),
      },
    });
    const bits = packedModelBits(packed);
    let linearBits = 0;
    let linearWeights = 0;
    for (const [name, perWeight] of bits.layers) {
      const { rows, cols } = packed.linears.get(name)!.weight;
      linearBits += perWeight * rows * cols;
      linearWeights += rows * cols;
    }
    return {
      path,
      totalBits: bits.totalBits,
      parameters: bits.parameters,
      bitsPerParameter: bits.bitsPerParameter,
      linearBitsPerWeight: linearBits / linearWeights,
    };
  } finally {
    for (const p of student.params.values()) p.dispose();
  }
}
