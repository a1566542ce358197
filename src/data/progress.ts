// A progress bar on stderr for `bitscale data prepare`: redrawn in place on a terminal, a line every 10 s
// otherwise (logs of a batch job stay short).
import type { PrepareProgress } from './prepare_corpus.ts';

const WIDTH = 30;

export function progressBar(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): (p: PrepareProgress) => void {
  let lastLine = 0;
  return (p) => {
    const now = performance.now();
    const done = p.totalChars !== null && p.doneChars >= p.totalChars;
    if (!stream.isTTY && !done && now - lastLine < 10_000 && p.phase === 'shards') return;
    lastLine = now;
    let line: string;
    if (p.phase === 'tokenizer') {
      line = `${label}: training the tokenizer on a sample...`;
    } else {
      const fraction = p.totalChars === null ? null : Math.min(1, p.doneChars / p.totalChars);
      const bar =
        fraction === null
          ? ''
          : `[${'#'.repeat(Math.round(fraction * WIDTH)).padEnd(WIDTH, '.')}] ${(fraction * 100).toFixed(0).padStart(3)}% `;
      const mb = (p.doneChars / 1e6).toFixed(0);
      const rate = p.tokens / Math.max(p.seconds, 1e-9);
      line = `${label}: ${bar}${mb} MB, ${(p.tokens / 1e6).toFixed(1)}M tokens, ${(rate / 1e6).toFixed(2)}M tokens/s, ${p.seconds.toFixed(0)} s`;
    }
    stream.write(stream.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
  };
}
