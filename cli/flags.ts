import { parseArgs } from 'node:util';

/**
 * Command-line flags checked against a declared table per command: each flag says its type and the values it takes,
 * and everything else (an unknown flag, a missing value, a value of the wrong type or outside its set, a flag given
 * twice, two flags that exclude each other) is a UsageError that names the flag. The same table writes `--help`.
 */

/** A mistake in how the command line was written: reported as `invalid-argument`, with its own exit code. */
export class UsageError extends Error {
  readonly code = 'invalid-argument';

  /** `command`: the command whose flags were wrong, so the report can point at its `--help`. */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

interface FlagCommon {
  help: string;
  required?: true;
  /** Flags that cannot be given together with this one. */
  excludes?: readonly string[];
}

interface Bounds {
  min: number;
  /** `min` itself is outside the range. */
  aboveMin?: true;
  max?: number;
}

export type FlagSpec =
  | (FlagCommon & { type: 'switch' })
  | (FlagCommon & { type: 'text'; placeholder: string; default?: string })
  | (FlagCommon & Bounds & { type: 'integer' | 'number'; placeholder: string; default?: number })
  /** A whole number, `k` meaning ×1024: 4096 or 4k. */
  | (FlagCommon & Bounds & { type: 'size'; placeholder: string; default?: number })
  /** A comma-separated list of sizes: 1k,32k,128k. */
  | (FlagCommon & Bounds & { type: 'sizes'; placeholder: string })
  | (FlagCommon & { type: 'choice'; choices: readonly string[]; default?: string })
  /** A comma-separated list of distinct choices: lean,fd. */
  | (FlagCommon & { type: 'choices'; choices: readonly string[] });

export type FlagTable = Readonly<Record<string, FlagSpec>>;

export interface CommandSpec<T extends FlagTable = FlagTable> {
  name: string;
  /** One line for the top-level command list. */
  summary: string;
  /** The synopsis after `usage: lean-decode `. */
  synopsis: string;
  /** What the command does, shown under the synopsis in `--help`. */
  description: string;
  flags: T;
}

type FlagValue<S> = S extends { type: 'switch' }
  ? boolean
  : S extends { type: 'choice'; choices: readonly (infer C)[] }
    ? C
    : S extends { type: 'choices'; choices: readonly (infer C)[] }
      ? C[]
      : S extends { type: 'sizes' }
        ? number[]
        : S extends { type: 'integer' | 'number' | 'size' }
          ? number
          : string;

/** Flags that always have a value: switches (false when absent), required flags and flags with a default. */
type AlwaysSet<T> = { [K in keyof T]: T[K] extends { type: 'switch' } | { required: true } | { default: unknown } ? K : never }[keyof T];

/** The parsed flags of a command, typed from its table. */
export type FlagValues<T extends FlagTable> = { [K in AlwaysSet<T>]: FlagValue<T[K]> } & {
  [K in Exclude<keyof T, AlwaysSet<T>>]?: FlagValue<T[K]>;
};

export type ParsedCommandLine<T extends FlagTable> = { help: true } | { help: false; flags: FlagValues<T> };

/**
 * The flags of `argv` checked against the command's table, with switches false and defaults filled in where absent;
 * the first problem throws a UsageError. `--help` (or `-h`) anywhere asks for help, whatever else is on the line.
 */
export function parseCommandLine<T extends FlagTable>(command: CommandSpec<T>, argv: readonly string[]): ParsedCommandLine<T> {
  const options = Object.fromEntries(Object.entries(command.flags).map(([name, spec]) => [name, { type: spec.type === 'switch' ? ('boolean' as const) : ('string' as const) }]));
  const { tokens } = parseArgs({
    args: [...argv],
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (tokens.some((token) => token.kind === 'option' && token.name === 'help')) return { help: true };

  const fail = (message: string) => new UsageError(message, command.name);
  const given = new Map<string, unknown>();
  for (const [i, token] of tokens.entries()) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      const previous = tokens[i - 1];
      if (previous?.kind === 'option' && command.flags[previous.name].type === 'switch' && previous.value === undefined) {
        throw fail(`--${previous.name} is a switch and takes no value (got "${token.value}")`);
      }
      throw fail(`unexpected argument "${token.value}": ${command.name} takes only flags (--name value), and this follows no flag that takes a value`);
    }
    const spec = Object.hasOwn(command.flags, token.name) ? command.flags[token.name] : undefined;
    if (!spec) throw fail(unknownFlagMessage(token.rawName, command));
    const flag = `--${token.name}`;
    if (given.has(token.name)) throw fail(`${flag} is given twice`);
    given.set(token.name, parseValue(flag, spec, token.value, token.inlineValue ?? false, fail));
  }

  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(command.flags)) {
    if (given.has(name)) {
      const clash = spec.excludes?.find((other) => given.has(other));
      if (clash) throw fail(`--${name} and --${clash} cannot be given together`);
      values[name] = given.get(name);
    } else if (spec.required) {
      throw fail(`--${name} is required (${usageOf(name, spec)})`);
    } else if (spec.type === 'switch') {
      values[name] = false;
    } else if ('default' in spec) {
      values[name] = spec.default;
    }
  }
  return { help: false, flags: values as FlagValues<T> };
}

function parseValue(flag: string, spec: FlagSpec, value: string | undefined, inline: boolean, fail: (message: string) => UsageError): unknown {
  if (spec.type === 'switch') {
    if (value !== undefined) throw fail(`${flag} is a switch and takes no value (got "${value}")`);
    return true;
  }
  // A separate argument that looks like a flag is the next flag, not this one's value (a negative number is a value).
  if (value === undefined || (!inline && value.startsWith('-') && !NUMBER.test(value))) {
    const hint = value === undefined ? '' : `; got the flag ${value} (a value that starts with "-" is written ${flag}=${value})`;
    throw fail(`${flag} needs a value: ${usageOf(flag.slice(2), spec)}${hint}`);
  }
  switch (spec.type) {
    case 'text':
      return value;
    case 'choice':
      if (!spec.choices.includes(value)) throw fail(`${flag} must be one of ${spec.choices.join(', ')} (got "${value}")`);
      return value;
    case 'choices': {
      const items = value.split(',');
      const wrong = items.find((item) => !spec.choices.includes(item));
      if (wrong !== undefined) throw fail(`${flag} takes a comma-separated list of ${spec.choices.join(', ')} (got "${wrong}" in "${value}")`);
      const twice = items.find((item, i) => items.indexOf(item) !== i);
      if (twice !== undefined) throw fail(`${flag} names ${twice} twice (got "${value}"; each of ${spec.choices.join(', ')} at most once)`);
      return items;
    }
    case 'integer':
    case 'number': {
      const number = (spec.type === 'integer' ? INTEGER : NUMBER).test(value) ? Number(value) : NaN;
      if (!inBounds(number, spec)) throw fail(`${flag} must be ${spec.type === 'integer' ? 'a whole number' : 'a number'} ${describeBounds(spec)} (got "${value}")`);
      return number;
    }
    case 'size': {
      const size = parseSize(value);
      if (!inBounds(size, spec)) throw fail(`${flag} must be a size like 4096 or 4k, ${describeBounds(spec)} (got "${value}")`);
      return size;
    }
    case 'sizes': {
      const parts = value.split(',');
      const wrong = parts.find((part) => !inBounds(parseSize(part), spec));
      if (wrong !== undefined) throw fail(`${flag} takes a comma-separated list of sizes like 1k,32k, each ${describeBounds(spec)} (got "${wrong}" in "${value}")`);
      return parts.map(parseSize);
    }
  }
}

const INTEGER = /^-?\d+$/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** `4096` → 4096, `32k` → 32768; anything else → NaN. */
export function parseSize(text: string): number {
  const match = /^(\d+)(k?)$/i.exec(text);
  return match ? Number(match[1]) * (match[2] ? 1024 : 1) : NaN;
}

function inBounds(value: number, bounds: Bounds): boolean {
  if (!(Math.abs(value) <= Number.MAX_SAFE_INTEGER)) return false;
  if (bounds.aboveMin ? value <= bounds.min : value < bounds.min) return false;
  return bounds.max === undefined || value <= bounds.max;
}

function describeBounds(bounds: Bounds): string {
  const low = bounds.aboveMin ? `greater than ${bounds.min}` : `at least ${bounds.min}`;
  return bounds.max === undefined ? low : `${low} and at most ${bounds.max}`;
}

function placeholderOf(spec: FlagSpec): string {
  if (spec.type === 'switch') return '';
  if (spec.type === 'choice') return spec.choices.join('|');
  if (spec.type === 'choices') return spec.choices.join(',');
  return spec.placeholder;
}

function usageOf(name: string, spec: FlagSpec): string {
  return spec.type === 'switch' ? `--${name}` : `--${name} ${placeholderOf(spec)}`;
}

function unknownFlagMessage(rawName: string, command: CommandSpec): string {
  const known = Object.keys(command.flags).map((name) => `--${name}`);
  const suggestion = closest(rawName, known);
  return `unknown flag ${rawName}${suggestion ? `; did you mean ${suggestion}?` : ''} (flags of ${command.name}: ${known.join(', ')}, --help)`;
}

/** The candidate a typo most likely meant: within a small edit distance, or the only one it begins. */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(typed.length / 4))) return best;
  const extensions = candidates.filter((candidate) => candidate.startsWith(typed));
  return extensions.length === 1 ? extensions[0] : undefined;
}

/** Levenshtein distance, with a swap of two neighbouring characters counted as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const substitution = d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** A command's `--help`: synopsis, description and one line per flag, from its table. */
export function commandHelp(command: CommandSpec): string {
  const rows = Object.entries(command.flags).map(([name, spec]) => {
    const notes = [
      spec.required ? 'required' : '',
      'default' in spec && spec.default !== undefined ? `default ${spec.default}` : '',
      spec.excludes ? `not with ${spec.excludes.map((other) => `--${other}`).join(', ')}` : '',
    ].filter(Boolean);
    return [usageOf(name, spec), notes.length ? `${spec.help} (${notes.join('; ')})` : spec.help];
  });
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map(([usage]) => usage.length)) + 2;
  const lines = rows.map(([usage, help]) => `  ${usage.padEnd(width)}${help}`);
  return `usage: lean-decode ${command.synopsis}\n\n${command.description}\n\nflags:\n${lines.join('\n')}`;
}

export type Flags = Map<string, string | true>;

/**
 * `--name value` and bare `--switch` arguments, unchecked: what `npm run bench:attention` still parses its flags with
 * (the lean-decode commands use parseCommandLine).
 */
export function parseFlags(argv: string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags.set(arg.slice(2), next);
      i++;
    } else {
      flags.set(arg.slice(2), true);
    }
  }
  return flags;
}
