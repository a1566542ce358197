// A Hugging Face model folder bitscale cannot load as it is: names the file, the field and the value.
export class HfModelError extends Error {
  override name = 'HfModelError';
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super(`${file}: ${field}: ${message}`);
  }
}

export const show = (v: unknown): string => {
  const text = v === undefined ? 'missing' : JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};
