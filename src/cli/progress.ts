// A live progress line: redrawn in place on a terminal, one line every few seconds in logs.
export function progressLine(stream: NodeJS.WriteStream = process.stderr): {
  update(text: string): void;
  done(text?: string): void;
} {
  let lastLog = 0;
  return {
    update(text) {
      if (stream.isTTY) {
        stream.write(`\r\x1b[2K${text}`);
      } else if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        stream.write(`${text}\n`);
      }
    },
    done(text) {
      if (stream.isTTY) stream.write('\r\x1b[2K');
      if (text) stream.write(`${text}\n`);
    },
  };
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}
