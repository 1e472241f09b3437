import { describe, expect, it } from 'vitest';
import { formatBytes, formatMs, formatTokens } from './format.ts';

describe('format', () => {
  it('names token counts in k where they are whole multiples of 1,024', () => {
    expect(formatTokens(1024)).toBe('1k');
    expect(formatTokens(524288)).toBe('512k');
    expect(formatTokens(1536)).toBe((1536).toLocaleString());
    expect(formatTokens(683)).toBe('683');
  });

  it('gives milliseconds to a precision that suits them, and bytes in binary units', () => {
    expect(formatMs(0.0123)).toBe('12 µs');
    expect(formatMs(3.256)).toBe('3.26 ms');
    expect(formatMs(123.4)).toBe('123 ms');
    expect(formatBytes(5.5 * 1024 * 1024)).toBe('5.5 MiB');
    expect(formatBytes(11.5 * 1024 * 1024)).toBe('12 MiB');
    expect(formatBytes(2 * 1024 ** 3)).toBe('2.0 GiB');
  });
});
