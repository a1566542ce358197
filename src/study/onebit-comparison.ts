// OneBit students against what else gives a model of about one bit per weight, from a study's run store: per
// full-precision teacher, its students (by init, loss and tokens), its RTN 1-bit and other PTQ results, and
// BitNet b1.58 runs of its shape trained from scratch. Every loss is set against the teacher's loss on the
// same validation tokens as retention (src/onebit/retention.ts: the fraction of the teacher's gain over
// uniform guessing kept) and as the perplexity ratio.
import { precisionBits } from '../numerics/precision.ts';
import { paperLlama7b, retention } from '../onebit/retention.ts';
import type { RunRecord } from '../store/run-store.ts';
import { ONEBIT_DISTILL } from '../sweep/expand.ts';

export type OnebitEntryKind = 'teacher' | 'onebit' | 'ptq' | 'bitnet';

export interface OnebitEntry {
  id: string;
  kind: OnebitEntryKind;
  label: string;
  /** Tokens the entry trained on (the student's budget; the run's D; a PTQ result's teacher D). */
  tokens: number;
  /** Bits per weight of the linear layers (OneBit: signs plus g and h in fp16). */
  linearBits: number;
  valLoss: number;
  retention: number;
  perplexityRatio: number;
  init?: string;
  loss?: string;
}

export interface OnebitTeacherComparison {
  teacherId: string;
  N: number;
  D: number;
  vocabSize: number;
  valLoss: number;
  entries: OnebitEntry[];
}

export interface OnebitComparison {
  metric: string;
  /** OneBit's LLaMA-7B WikiText2 result by the same measure, and the paper's claim. */
  paper: { retention: number; perplexityRatio: number; claimed: number };
  teachers: OnebitTeacherComparison[];
}

export const retentionMetric =
  'retention = (ln V − L_student) / (ln V − L_teacher): the fraction of the teacher’s gain over uniform guessing ' +
  '(ln V nats/token) that a model keeps, both scored on the same validation tokens; 1 = as good as the teacher.';

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN);
const metricsOf = (r: RunRecord) => (r.metrics ?? {}) as Record<string, unknown>;

/** The comparison, or null when the store has no finished OneBit student. */
export function onebitComparison(records: RunRecord[]): OnebitComparison | null {
  const done = records.filter((r) => r.status === 'done');
  const students = done.filter((r) => r.kind === ONEBIT_DISTILL);
  if (students.length === 0) return null;
  const byId = new Map(records.map((r) => [r.id, r]));
  const teachers: OnebitTeacherComparison[] = [];
  for (const teacherId of [...new Set(students.map((s) => String(s.config.teacher)))]) {
    const teacher = byId.get(teacherId);
    if (!teacher) continue;
    const tm = metricsOf(teacher);
    const own = students.filter((s) => s.config.teacher === teacherId);
    const vocabSize = num(metricsOf(own[0]).vocabSize);
    const versus = (loss: number, reference: number) => {
      const r = retention(reference, loss, vocabSize);
      return { retention: r.gainKept, perplexityRatio: r.perplexityRatio };
    };
    const teacherLoss = num(tm.valLoss);
    const entries: OnebitEntry[] = [
      {
        id: teacherId,
        kind: 'teacher',
        label: `teacher (${describePrecision(teacher)})`,
        tokens: num(tm.D),
        linearBits: num(tm.Pw),
        valLoss: teacherLoss,
        ...versus(teacherLoss, teacherLoss),
      },
    ];
    for (const s of own) {
      const m = metricsOf(s);
      entries.push({
        id: s.id,
        kind: 'onebit',
        label: `OneBit student, ${s.config.init} init, ${s.config.loss === 'distill' ? 'distillation' : 'plain CE'}`,
        tokens: num(m.D),
        linearBits: num(m.linearBitsPerWeight),
        valLoss: num(m.valLoss),
        ...versus(num(m.valLoss), num(m.teacherValLoss)),
        init: String(s.config.init),
        loss: String(s.config.loss),
      });
    }
    for (const p of done.filter((r) => r.kind === 'ptq' && r.config.source === teacherId)) {
      const m = metricsOf(p);
      const format = String(p.config.precision);
      const label =
        format === 'binary'
          ? 'RTN 1-bit (sign × mean |W| per row)'
          : `${String(p.config.method).toUpperCase()} ${format}`;
      entries.push({
        id: p.id,
        kind: 'ptq',
        label,
        tokens: num(tm.D),
        linearBits: precisionBits(format),
        valLoss: num(m.valLoss),
        ...versus(num(m.valLoss), num(m.baseValLoss)),
      });
    }
    // BitNet b1.58 from scratch: ternary weights, same shape (N) as the teacher.
    for (const b of done.filter(
      (r) => r.kind === 'train' && isTernary(r) && num(metricsOf(r).N) === num(tm.N),
    )) {
      const m = metricsOf(b);
      entries.push({
        id: b.id,
        kind: 'bitnet',
        label: `BitNet b1.58 from scratch (${describePrecision(b)})`,
        tokens: num(m.D),
        linearBits: num(m.Pw),
        valLoss: num(m.valLoss),
        ...versus(num(m.valLoss), teacherLoss),
      });
    }
    teachers.push({ teacherId, N: num(tm.N), D: num(tm.D), vocabSize, valLoss: teacherLoss, entries });
  }
  const paper = retention(
    Math.log(paperLlama7b.teacherPpl),
    Math.log(paperLlama7b.studentPpl),
    paperLlama7b.vocabSize,
  );
  return {
    metric: retentionMetric,
    paper: {
      retention: paper.gainKept,
      perplexityRatio: paper.perplexityRatio,
      claimed: paperLlama7b.claimed,
    },
    teachers,
  };
}

function isTernary(r: RunRecord): boolean {
  return (r.config.precision as { w?: string } | undefined)?.w === 'ternary';
}

function describePrecision(r: RunRecord): string {
  const p = r.config.precision as { w: string; a: string; kv: string };
  return `W ${p.w}, A ${p.a}, KV ${p.kv}`;
}
