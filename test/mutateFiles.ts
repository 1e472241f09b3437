/**
 * Damage for model files, drawn from a seeded random stream (the fuzzed-model-files test): bytes flipped, files cut
 * short or removed, JSON values replaced by hostile ones, nudged, renamed or deleted, safetensors header lengths
 * that lie. Each function returns the damaged bytes and a line that says what it did.
 */

export type Random = () => number;

/** mulberry32: consecutive seeds give unrelated streams. */
export function random32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const below = (random: Random, n: number) => Math.floor(random() * n);
const pick = <T,>(random: Random, items: readonly T[]): T => items[below(random, items.length)];

/** Picks an entry of `[weight, value]` pairs in proportion to the weights. */
export function weighted<T>(random: Random, entries: [number, T][]): T {
  let r = random() * entries.reduce((sum, [w]) => sum + w, 0);
  for (const [w, value] of entries) {
    r -= w;
    if (r < 0) return value;
  }
  return entries[entries.length - 1][1];
}

export interface Mutation {
  description: string;
  /** The file's new bytes, or undefined when the file is removed. */
  bytes: Uint8Array | undefined;
}

function flipBytes(bytes: Uint8Array, random: Random, from: number, to: number): Mutation {
  const out = bytes.slice();
  const count = 1 + below(random, 4);
  const positions: number[] = [];
  for (let i = 0; i < count && to > from; i++) {
    const at = from + below(random, to - from);
    out[at] ^= 1 + below(random, 255);
    positions.push(at);
  }
  return { description: `flip bytes ${positions.join(', ')}`, bytes: out };
}

function truncate(bytes: Uint8Array, length: number): Mutation {
  return { description: `cut to ${length} of ${bytes.length} bytes`, bytes: bytes.slice(0, length) };
}

// JSON has no Infinity: these strings are written out as 1e999 and -1e999, which JSON.parse reads as ±Infinity.
const PLUS_INFINITY = '\u0000+inf';
const MINUS_INFINITY = '\u0000-inf';

function serialize(value: unknown): Uint8Array {
  const source = JSON.stringify(value) ?? 'null';
  return new TextEncoder().encode(source.replaceAll(JSON.stringify(PLUS_INFINITY), '1e999').replaceAll(JSON.stringify(MINUS_INFINITY), '-1e999'));
}

const HOSTILE_VALUES: unknown[] = [
  null, true, false, 0, 1, 2, -1, 0.5, -0.25, 2 ** 31, 2 ** 32 + 1, 2 ** 53 + 2, 1e300, PLUS_INFINITY, MINUS_INFINITY,
  '', 'x', '64', 'NaN', '__proto__', 'toString', 'constructor', 'F64', [], [null], [1, 2, 3], [-1, 2 ** 40], {}, { a: 1 },
];

const HOSTILE_KEYS = ['__proto__', 'constructor', 'toString', '__metadata__', ''];

type Container = Record<string, unknown> | unknown[];
const isContainer = (value: unknown): value is Container => typeof value === 'object' && value !== null;
const keysOf = (value: Container): string[] => Object.keys(value);

function setOwn(target: Container, key: string, value: unknown): void {
  // Plain assignment to "__proto__" would change the prototype instead of adding a key, as JSON.parse does.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function nearby(random: Random, n: number): unknown {
  return pick(random, [n + 1, n - 1, n * 2, Math.floor(n / 2), -n, 0, n + 0.5, n * 1e6, PLUS_INFINITY]);
}

function describeValue(value: unknown): string {
  if (value === PLUS_INFINITY) return '1e999';
  if (value === MINUS_INFINITY) return '-1e999';
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length > 40 ? `${shown.slice(0, 37)}...` : shown;
}

/**
 * Walks from the root into a random value (each step down with probability 0.65) and changes it: replaced by a
 * hostile value, nudged (numbers), cut or changed (strings), shortened or lengthened (arrays), deleted, renamed or
 * joined by a hostile key.
 */
function mutateJsonValue(root: unknown, random: Random): { root: unknown; description: string } {
  if (!isContainer(root) || random() < 0.03) {
    const value = pick(random, HOSTILE_VALUES);
    return { root: value, description: `the whole document = ${describeValue(value)}` };
  }
  let parent: Container = root;
  let key = pick(random, keysOf(root));
  const path = [key];
  while (isContainer((parent as Record<string, unknown>)[key]) && keysOf((parent as Record<string, Container>)[key]).length > 0 && random() < 0.65) {
    parent = (parent as Record<string, Container>)[key];
    key = pick(random, keysOf(parent));
    path.push(key);
  }
  const node = (parent as Record<string, unknown>)[key];
  const where = path.map((k) => (k.length > 24 ? `${k.slice(0, 21)}...` : k)).join('.');
  const replace = (value: unknown, how = '=') => {
    setOwn(parent, key, value);
    return { root, description: `${where} ${how} ${describeValue(value)}` };
  };
  const ops: [number, () => { root: unknown; description: string }][] = [
    [4, () => replace(pick(random, HOSTILE_VALUES))],
    [
      1.5,
      () => {
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
        return { root, description: `${where} deleted` };
      },
    ],
    [
      1,
      () => {
        const added = pick(random, HOSTILE_KEYS);
        const value = pick(random, HOSTILE_VALUES);
        if (Array.isArray(parent)) parent.push(value);
        else setOwn(parent, added, value);
        return { root, description: `${where}: added ${JSON.stringify(added)} = ${describeValue(value)}` };
      },
    ],
  ];
  if (!Array.isArray(parent)) {
    ops.push([
      1,
      () => {
        const others = keysOf(parent).filter((k) => k !== key);
        const renamed = others.length > 0 && random() < 0.5 ? pick(random, others) : `${key.slice(0, -1)}${String.fromCharCode(33 + below(random, 90))}`;
        const value = (parent as Record<string, unknown>)[key];
        delete (parent as Record<string, unknown>)[key];
        setOwn(parent, renamed, value);
        return { root, description: `${where} renamed to ${JSON.stringify(renamed)}` };
      },
    ]);
  }
  if (typeof node === 'number') ops.push([5, () => replace(nearby(random, node), '=')]);
  if (typeof node === 'string') {
    ops.push([3, () => replace(node.slice(0, below(random, node.length + 1)), 'cut to')]);
    ops.push([
      2,
      () => {
        const at = below(random, Math.max(1, node.length));
        return replace(`${node.slice(0, at)}${String.fromCharCode(32 + below(random, 95))}${node.slice(at + 1)}`, 'changed to');
      },
    ]);
  }
  if (Array.isArray(node)) {
    ops.push([2, () => replace(node.slice(0, below(random, node.length)), 'shortened to')]);
    ops.push([1, () => replace([...node, ...node], 'doubled to')]);
  }
  return weighted(random, ops)();
}

function mutateJsonFile(bytes: Uint8Array, random: Random): Mutation {
  return weighted<() => Mutation>(random, [
    [
      55,
      () => {
        const { root, description } = mutateJsonValue(parseJson(bytes), random);
        return { description: `json: ${description}`, bytes: serialize(root) };
      },
    ],
    [25, () => flipBytes(bytes, random, 0, bytes.length)],
    [15, () => truncate(bytes, below(random, bytes.length))],
    [5, () => ({ description: 'removed', bytes: undefined })],
  ])();
}

function mutateSafetensors(bytes: Uint8Array, random: Random): Mutation {
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const dataStart = 8 + headerLength;
  const data = bytes.subarray(dataStart);
  const withLength = (header: Uint8Array, length: bigint) => {
    const out = new Uint8Array(8 + header.length + data.length);
    new DataView(out.buffer).setBigUint64(0, length, true);
    out.set(header, 8);
    out.set(data, 8 + header.length);
    return out;
  };
  return weighted<() => Mutation>(random, [
    [
      35,
      () => {
        const { root, description } = mutateJsonValue(parseJson(bytes.subarray(8, dataStart)), random);
        const header = serialize(root);
        return { description: `header json: ${description}`, bytes: withLength(header, BigInt(header.length)) };
      },
    ],
    [
      30,
      () => {
        const [from, to] = weighted(random, [[10, [0, 8]], [75, [8, dataStart]], [15, [dataStart, bytes.length]]] as [number, [number, number]][]);
        return flipBytes(bytes, random, from, to);
      },
    ],
    [
      20,
      () =>
        truncate(
          bytes,
          weighted(random, [
            [2, () => below(random, dataStart)],
            [1, () => dataStart + below(random, 3) - 1],
            [3, () => dataStart + below(random, bytes.length - dataStart)],
          ] as [number, () => number][])(),
        ),
    ],
    [
      10,
      () => {
        const length = pick(random, [0n, 1n, 7n, BigInt(headerLength - 1), BigInt(headerLength + 1), BigInt(bytes.length - 8), BigInt(bytes.length), 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 100n * 1024n * 1024n + 1n]);
        const out = bytes.slice();
        new DataView(out.buffer).setBigUint64(0, length, true);
        return { description: `header length = ${length}`, bytes: out };
      },
    ],
    [5, () => ({ description: 'removed', bytes: undefined })],
  ])();
}

const parseJson = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes));

/** Damage for one file of a model folder, by its kind. */
export function mutateFile(path: string, bytes: Uint8Array, random: Random): Mutation {
  return path.endsWith('.safetensors') ? mutateSafetensors(bytes, random) : mutateJsonFile(bytes, random);
}
