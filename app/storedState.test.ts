import { afterEach, describe, expect, it, vi } from 'vitest';
import { readStored, ThrottledWrite, writeStored } from './storedState.ts';

const asNumber = (stored: unknown) => (typeof stored === 'number' ? stored : undefined);

function fakeStorage(setItem?: () => void): Map<string, string> {
  const items = new Map<string, string>();
  Object.assign(globalThis, {
    localStorage: { getItem: (key: string) => items.get(key) ?? null, setItem: setItem ?? ((key: string, value: string) => items.set(key, value)) },
  });
  return items;
}

afterEach(() => {
  delete (globalThis as { localStorage?: unknown }).localStorage;
});

describe('stored state', () => {
  it('writes JSON and reads it back through restore', () => {
    const items = fakeStorage();
    writeStored('k', 42);
    expect(items.get('k')).toBe('42');
    expect(readStored('k', asNumber)).toBe(42);
  });

  it('reads nothing where nothing, JSON that does not parse or a value restore refuses is stored', () => {
    const items = fakeStorage();
    expect(readStored('missing', asNumber)).toBeUndefined();
    items.set('k', '{not json');
    expect(readStored('k', asNumber)).toBeUndefined();
    items.set('k', '"text"');
    expect(readStored('k', asNumber)).toBeUndefined();
  });

  it('works on where storage is full, blocked or absent', () => {
    fakeStorage(() => {
      throw new DOMException('quota exceeded', 'QuotaExceededError');
    });
    expect(() => writeStored('k', 1)).not.toThrow();
    delete (globalThis as { localStorage?: unknown }).localStorage;
    expect(() => writeStored('k', 1)).not.toThrow();
    expect(readStored('k', asNumber)).toBeUndefined();
  });
});

describe('ThrottledWrite', () => {
  afterEach(() => vi.useRealTimers());

  it('writes at once without a period', () => {
    const items = fakeStorage();
    new ThrottledWrite('k', 0).set(1);
    expect(items.get('k')).toBe('1');
  });

  it('writes at most once a period, the latest value, and a waiting one on flush', () => {
    vi.useFakeTimers();
    const items = fakeStorage();
    const write = new ThrottledWrite('k', 500);
    write.set(1);
    write.set(2);
    expect(items.has('k')).toBe(false);
    vi.advanceTimersByTime(500);
    expect(items.get('k')).toBe('2');
    write.set(3);
    vi.advanceTimersByTime(499);
    expect(items.get('k')).toBe('2');
    write.flush();
    expect(items.get('k')).toBe('3');
    // Nothing waits after a flush: the timer that was set writes nothing more.
    items.delete('k');
    vi.advanceTimersByTime(1000);
    write.flush();
    expect(items.has('k')).toBe(false);
  });
});
