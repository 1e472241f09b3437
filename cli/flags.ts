export type Flags = Map<string, string | true>;

/** `--name value` and bare `--switch` arguments. */
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

export function flagString(flags: Flags, name: string): string | undefined {
  const value = flags.get(name);
  if (value === true) throw new Error(`--${name} needs a value`);
  return value;
}

export function flagNumber(flags: Flags, name: string): number | undefined {
  const value = flagString(flags, name);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number)) throw new Error(`--${name} must be a number (got "${value}")`);
  return number;
}

/** `1k,32k,128k` → [1024, 32768, 131072]. */
export function parseSizes(text: string): number[] {
  return text.split(',').map((part) => {
    const match = /^(\d+)(k?)$/i.exec(part.trim());
    if (!match) throw new Error(`"${part}" is not a size like 4096 or 32k`);
    return Number(match[1]) * (match[2] ? 1024 : 1);
  });
}
