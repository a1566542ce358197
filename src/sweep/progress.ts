// The sweep's live progress line: done/running/failed/diverged/pending and an ETA.

export interface SweepProgress {
  name: string;
  total: number;
  done: number;
  diverged: number;
  running: number;
  failed: number;
  blocked: number;
  pending: number;
  /** Seconds left, or null before anything has finished in this invocation. */
  etaSeconds: number | null;
}

export function formatProgress(p: SweepProgress): string {
  const parts = [`${p.done}/${p.total} done`, `${p.running} running`, `${p.failed} failed`];
  if (p.diverged) parts.push(`${p.diverged} diverged`);
  if (p.blocked) parts.push(`${p.blocked} blocked`);
  parts.push(`${p.pending} pending`);
  parts.push(`ETA ${p.etaSeconds === null ? '?' : formatDuration(p.etaSeconds)}`);
  return `[sweep ${p.name}] ${parts.join(' · ')}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A progress printer for a stream: rewrites one line on a terminal, prints changed lines otherwise. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (p: SweepProgress) => void {
  let last = '';
  return (p) => {
    const line = formatProgress(p);
    if (stream.isTTY) stream.write(`\r\x1b[2K${line}`);
    else if (line.replace(/ETA \S+/, '') !== last.replace(/ETA \S+/, '')) stream.write(`${line}\n`);
    last = line;
  };
}
