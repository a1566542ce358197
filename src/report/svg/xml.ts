// Escaping for text and attribute values placed into SVG/HTML.
export function esc(s: string | number): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Numbers in SVG coordinates: two decimals are plenty and keep files small. */
export function n(x: number): string {
  return String(Math.round(x * 100) / 100);
}
