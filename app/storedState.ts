import { useEffect, useMemo, useState, type Dispatch, type SetStateAction } from 'react';

/**
 * React state kept in the page's localStorage under `key`, so that a reload keeps it. `restore` makes what is stored
 * (JSON written by an earlier version of the page, or anything at all) into a valid value, or undefined to start from
 * `initial`. Where storage is full, disabled or blocked the state works in memory alone.
 *
 * `writeEveryMs`: state that changes many times a second (an answer as it streams) is written at most that often,
 * its latest value each time, and at once when the page is hidden or closed.
 */
export function useStoredState<T>(
  key: string,
  initial: T,
  restore: (stored: unknown) => T | undefined,
  { writeEveryMs = 0 }: { writeEveryMs?: number } = {},
): [T, Dispatch<SetStateAction<T>>] {
  const [value, setValue] = useState<T>(() => readStored(key, restore) ?? initial);
  const writer = useMemo(() => new ThrottledWrite(key, writeEveryMs), [key, writeEveryMs]);
  useEffect(() => writer.set(value), [writer, value]);
  useEffect(() => {
    const flush = () => writer.flush();
    addEventListener('pagehide', flush);
    return () => {
      removeEventListener('pagehide', flush);
      flush();
    };
  }, [writer]);
  return [value, setValue];
}

/** Writes the values set under `key` at most every `everyMs` (0: each at once), the latest one each time. */
export class ThrottledWrite {
  private pending: ReturnType<typeof setTimeout> | undefined;
  private latest: unknown;

  constructor(
    private readonly key: string,
    private readonly everyMs: number,
  ) {}

  set(value: unknown): void {
    this.latest = value;
    if (this.everyMs === 0) writeStored(this.key, value);
    else this.pending ??= setTimeout(() => this.flush(), this.everyMs);
  }

  /** Writes the value still waiting, if any, now. */
  flush(): void {
    if (this.pending === undefined) return;
    clearTimeout(this.pending);
    this.pending = undefined;
    writeStored(this.key, this.latest);
  }
}

export function readStored<T>(key: string, restore: (stored: unknown) => T | undefined): T | undefined {
  try {
    const text = globalThis.localStorage?.getItem(key);
    return text == null ? undefined : restore(JSON.parse(text));
  } catch {
    return undefined;
  }
}

export function writeStored(key: string, value: unknown): void {
  try {
    globalThis.localStorage?.setItem(key, JSON.stringify(value));
  } catch {
    // Full or blocked storage: the value lives on in memory.
  }
}
