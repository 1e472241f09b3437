import { useEffect, useState, type Dispatch, type SetStateAction } from 'react';

/**
 * React state kept in the page's localStorage under `key`, so that a reload keeps it. `restore` makes what is stored
 * (JSON written by an earlier version of the page, or anything at all) into a valid value, or undefined to start from
 * `initial`. Where storage is full, disabled or blocked the state works in memory alone.
 */
export function useStoredState<T>(key: string, initial: T, restore: (stored: unknown) => T | undefined): [T, Dispatch<SetStateAction<T>>] {
  const [value, setValue] = useState<T>(() => readStored(key, restore) ?? initial);
  useEffect(() => writeStored(key, value), [key, value]);
  return [value, setValue];
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
