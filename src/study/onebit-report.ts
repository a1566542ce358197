// The OneBit part of the study report: findings (sentences computed from the comparison) and a table per
// teacher. Nothing here is written by hand but the wording.

import { esc } from '../report/svg/xml.ts';
import type { Finding } from '../report/types.ts';
import type { OnebitComparison, OnebitEntry, OnebitTeacherComparison } from './onebit-comparison.ts';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const nats = (x: number) => x.toFixed(3);
const count = (x: number) =>
  x >= 1e9
    ? `${(x / 1e9).toFixed(2)}B`
    : x >= 1e6
      ? `${(x / 1e6).toFixed(1)}M`
      : x >= 1e3
        ? `${(x / 1e3).toFixed(0)}k`
        : String(x);

const students = (t: OnebitTeacherComparison) => t.entries.filter((e) => e.kind === 'onebit');

/** The paper's recipe (SVID by NMF, distillation) at the largest student budget, else the best student. */
function mainStudent(t: OnebitTeacherComparison): OnebitEntry | null {
  const all = students(t).filter((e) => Number.isFinite(e.valLoss));
  const paper = all.filter((e) => e.init === 'svid-nmf' && e.loss === 'distill');
  const pool = paper.length > 0 ? paper : all;
  return pool.sort((a, b) => b.tokens - a.tokens || a.valLoss - b.valLoss)[0] ?? null;
}

function retentionFinding(c: OnebitComparison, t: OnebitTeacherComparison): Finding | null {
  const s = mainStudent(t);
  if (!s) return null;
  return {
    id: `onebit-retention-${t.teacherId}`,
    text:
      `OneBit student of the N = ${count(t.N)} teacher (${s.init} init, ${s.loss === 'distill' ? 'distillation' : 'plain CE'}, ` +
      `${count(s.tokens)} tokens, ${s.linearBits.toFixed(3)} bits per linear weight): validation loss ${nats(s.valLoss)} against the teacher's ` +
      `${nats(s.valLoss + Math.log(s.perplexityRatio))} nats/token; it keeps ${pct(s.retention)} of the teacher's gain over uniform guessing ` +
      `(perplexity ratio ${s.perplexityRatio.toFixed(3)}). OneBit's LLaMA-7B keeps ${pct(c.paper.retention)} by the same measure ` +
      `(WikiText2 perplexity 5.68 → 10.20); the paper states at least ${pct(c.paper.claimed)} (on zero-shot accuracy). ` +
      `${s.retention >= c.paper.claimed ? 'Here retention is at or above' : 'Here retention is below'} ${pct(c.paper.claimed)}.`,
    shown: s.retention >= c.paper.claimed,
  };
}

/** Pairs of students that differ in one setting only, at the same tokens. */
function ablationFindings(t: OnebitTeacherComparison): Finding[] {
  const out: Finding[] = [];
  const all = students(t).filter((e) => Number.isFinite(e.valLoss));
  for (const s of all.filter((e) => e.init?.startsWith('svid'))) {
    const random = all.find((e) => e.init === 'random' && e.loss === s.loss && e.tokens === s.tokens);
    if (random) {
      const d = random.valLoss - s.valLoss;
      out.push({
        id: `onebit-init-${s.id}`,
        text:
          `SVID (${s.init}) against random init, ${s.loss === 'distill' ? 'distillation' : 'plain CE'}, ${count(s.tokens)} student tokens: ` +
          `${nats(s.valLoss)} vs ${nats(random.valLoss)} nats/token; SVID is ${d > 0 ? 'better' : 'worse'} by ${nats(Math.abs(d))} ` +
          `(retention ${pct(s.retention)} vs ${pct(random.retention)}).`,
        shown: d > 0,
      });
    }
    if (s.loss === 'distill') {
      const ce = all.find((e) => e.init === s.init && e.loss === 'ce' && e.tokens === s.tokens);
      if (ce) {
        const d = ce.valLoss - s.valLoss;
        out.push({
          id: `onebit-distill-${s.id}`,
          text:
            `Distillation against plain CE training of the same ${s.init} student, ${count(s.tokens)} tokens: ` +
            `${nats(s.valLoss)} vs ${nats(ce.valLoss)} nats/token; distillation is ${d > 0 ? 'better' : 'worse'} by ${nats(Math.abs(d))}.`,
          shown: d > 0,
        });
      }
    }
  }
  return out;
}

function baselineFinding(t: OnebitTeacherComparison): Finding | null {
  const s = mainStudent(t);
  const others = t.entries.filter(
    (e) => (e.kind === 'ptq' || e.kind === 'bitnet') && Number.isFinite(e.valLoss),
  );
  if (!s || others.length === 0) return null;
  const beaten = others.filter((e) => s.valLoss < e.valLoss);
  const list = others
    .map((e) => `${e.label} ${nats(e.valLoss)} (${e.linearBits.toFixed(2)} bits, ${count(e.tokens)} tokens)`)
    .join('; ');
  return {
    id: `onebit-baselines-${t.teacherId}`,
    text:
      `The OneBit student (${nats(s.valLoss)} nats/token at ${s.linearBits.toFixed(3)} bits per linear weight) beats ` +
      `${beaten.length} of ${others.length} low-bit alternatives of the same teacher shape: ${list}.`,
    shown: beaten.length === others.length,
  };
}

export function onebitFindings(c: OnebitComparison): Finding[] {
  return c.teachers.flatMap((t) =>
    [retentionFinding(c, t), ...ablationFindings(t), baselineFinding(t)].filter(
      (f): f is Finding => f !== null,
    ),
  );
}

/** One table per teacher: every model of about its shape, lowest loss first. */
export function onebitSectionHtml(c: OnebitComparison): string {
  const tables = c.teachers.map((t) => {
    const rows = [...t.entries]
      .sort((a, b) => a.valLoss - b.valLoss)
      .map(
        (e) =>
          `<tr class="onebit-${e.kind}"><td>${esc(e.label)}</td><td>${count(e.tokens)}</td><td>${e.linearBits.toFixed(3)}</td>` +
          `<td>${nats(e.valLoss)}</td><td>${pct(e.retention)}</td><td>${e.perplexityRatio.toFixed(3)}</td></tr>`,
      )
      .join('');
    return (
      `<h3>Teacher N = ${count(t.N)}, D = ${count(t.D)} (V = ${t.vocabSize})</h3>` +
      '<table><thead><tr><th>model</th><th>tokens</th><th>bits / linear weight</th><th>val loss (nats/token)</th>' +
      `<th>retention</th><th>ppl ratio</th></tr></thead><tbody>${rows}</tbody></table>`
    );
  });
  return `<p>${esc(c.metric)} The paper's LLaMA-7B result by this measure: ${pct(c.paper.retention)}.</p>${tables.join('')}`;
}
