// How much of the teacher's quality a student keeps, from validation losses (nats/token). OneBit states
// "at least 81% of the non-quantized performance" from zero-shot accuracies, where 0 means knowing nothing;
// the loss-based analogue counts the gain over a model that knows nothing (uniform over the V tokens):
//   retention = (ln V − L_student) / (ln V − L_teacher)      1: as good as the teacher, 0: uniform guessing.
// The perplexity ratio ppl_teacher / ppl_student = exp(L_teacher − L_student) is reported beside it.

export interface Retention {
  /** Fraction of the teacher's gain over uniform guessing that the student keeps. */
  gainKept: number;
  /** ppl_teacher / ppl_student. */
  perplexityRatio: number;
}

export function retention(teacherLoss: number, studentLoss: number, vocabSize: number): Retention {
  const uniform = Math.log(vocabSize);
  return {
    gainKept: (uniform - studentLoss) / (uniform - teacherLoss),
    perplexityRatio: Math.exp(teacherLoss - studentLoss),
  };
}

/** OneBit's own LLaMA-7B WikiText2 perplexities (FP16 5.68 -> OneBit 10.20, vocabulary 32000), by the same measure. */
export const paperLlama7b = { teacherPpl: 5.68, studentPpl: 10.2, vocabSize: 32000, claimed: 0.81 };
