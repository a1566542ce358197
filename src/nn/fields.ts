// Reading a config section as the user wrote it. Keys may be camelCase (dModel) or snake_case (d_model);
// every problem is collected (not only the first) and named by the key as written, so that an error points
// at the text in the user's file.

export interface ConfigIssue {
  field: string;
  message: string;
}

/** A config failed validation; `issues` lists every problem; `file` is the config file, when there is one. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  constructor(
    issues: readonly ConfigIssue[] | string,
    message = '',
    readonly file?: string,
  ) {
    const list = typeof issues === 'string' ? [{ field: issues, message }] : issues;
    const where = file === undefined ? '' : `${file}: `;
    super(
      list.length === 1
        ? `${where}${list[0].field}: ${list[0].message}`
        : `${where}invalid config (${list.length} problems):\n${list.map((i) => `  ${i.field}: ${i.message}`).join('\n')}`,
    );
    this.issues = list;
  }

  /** The first problem's field. */
  get field(): string {
    return this.issues[0].field;
  }
}

/** d_model -> dModel (camelCase keys are left as they are). */
export const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** One mapping of a config (model, data, train, model.precision, ...) with its keys resolved to camelCase. */
export class Fields {
  private readonly values = new Map<string, unknown>();
  private readonly written = new Map<string, string>();
  private readonly snakeStyle: boolean;

  constructor(
    raw: unknown,
    /** 'model.' etc.: what field names are prefixed with. */
    readonly prefix: string,
    allowed: readonly string[],
    readonly issues: ConfigIssue[],
  ) {
    const section = raw ?? {};
    if (typeof section !== 'object' || Array.isArray(section)) {
      issues.push({ field: prefix.replace(/\.$/, '') || 'config', message: `${show(raw)} is not a mapping` });
    }
    const entries = typeof section === 'object' && !Array.isArray(section) ? Object.entries(section) : [];
    this.snakeStyle = entries.some(([key]) => key.includes('_'));
    for (const [key, value] of entries) {
      const canonical = camel(key);
      if (!allowed.includes(canonical)) {
        const names = allowed.map((k) => (this.snakeStyle ? snake(k) : k));
        issues.push({ field: prefix + key, message: `unknown key (allowed: ${names.join(', ')})` });
      } else if (this.written.has(canonical)) {
        issues.push({ field: prefix + key, message: `given twice (also as ${this.written.get(canonical)})` });
      } else {
        this.written.set(canonical, key);
        this.values.set(canonical, value);
      }
    }
  }

  /** The field's name as the user wrote it (or would, in the section's style), with the prefix. */
  name(key: string): string {
    return this.prefix + (this.written.get(key) ?? (this.snakeStyle ? snake(key) : key));
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  get(key: string): unknown {
    return this.values.get(key);
  }

  problem(key: string, message: string): undefined {
    this.issues.push({ field: this.name(key), message });
    return undefined;
  }

  /** A number in [min, max] (an integer if asked); `fallback` when absent (required when fallback is undefined). */
  number(
    key: string,
    fallback: number | undefined,
    min: number,
    max = Number.POSITIVE_INFINITY,
    integer = false,
  ): number | undefined {
    const v = this.values.has(key) ? this.values.get(key) : fallback;
    const what = `${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`;
    if (v === undefined) return this.problem(key, `is required (${what})`);
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      v >= min &&
      v <= max &&
      (!integer || Number.isInteger(v));
    return ok ? v : this.problem(key, `must be ${what}, got ${show(v)}`);
  }

  boolean(key: string, fallback: boolean): boolean | undefined {
    const v = this.values.has(key) ? this.values.get(key) : fallback;
    return typeof v === 'boolean' ? v : this.problem(key, `must be true or false, got ${show(v)}`);
  }

  /** A string from `allowed` (any string when allowed is null); `fallback` when absent. */
  string(
    key: string,
    fallback: string | undefined,
    allowed: readonly string[] | null = null,
  ): string | undefined {
    const v = this.values.has(key) ? this.values.get(key) : fallback;
    if (v === undefined) return this.problem(key, 'is required (a string)');
    if (typeof v !== 'string' || v === '')
      return this.problem(key, `must be a non-empty string, got ${show(v)}`);
    if (allowed && !allowed.includes(v))
      return this.problem(key, `${show(v)} is not one of ${allowed.join(', ')}`);
    return v;
  }
}

/** A value for an error message: JSON, cut at 80 characters; never throws (cycles, absurd nesting). */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = Array.isArray(v) ? '[a list nested too deep to show]' : '{a value nested too deep to show}';
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
