import { describe, expect, it } from 'vitest';
import { unrollLoops } from './unroll.ts';

describe('unrollLoops', () => {
  it('turns a marked loop into one block per value, nested marked loops too, and leaves other loops alone', () => {
    const code = [
      'fn f() {',
      '  // unroll',
      '  for (var r = 0u; r < ROWS; r++) {',
      '    // unroll',
      '    for (var u = 1u; u < UNROLL; u++) {',
      '      x[r][u] += 1.0;',
      '    }',
      '    for (var t = 0u; t < n; t++) {',
      '      y[r] += 1.0;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n');
    const unrolled = unrollLoops(code, { ROWS: 2, UNROLL: 3 });
    expect(unrolled).not.toContain('// unroll');
    expect(unrolled.match(/const r = (\d)u;/g)).toEqual(['const r = 0u;', 'const r = 1u;']);
    expect(unrolled.match(/const u = (\d)u;/g)).toEqual(['const u = 1u;', 'const u = 2u;', 'const u = 1u;', 'const u = 2u;']);
    expect(unrolled.match(/x\[r\]\[u\] \+= 1\.0;/g)).toHaveLength(4);
    expect(unrolled.match(/for \(var t = 0u; t < n; t\+\+\)/g)).toHaveLength(2);
    // Braces stay balanced and the function still closes.
    expect(unrolled.split('{').length).toBe(unrolled.split('}').length);
    expect(unrolled.trimEnd().endsWith('}')).toBe(true);
  });

  it('says which bound it does not know', () => {
    expect(() => unrollLoops('  // unroll\n  for (var r = 0u; r < ROWS; r++) {\n  }\n', {})).toThrow(/bound ROWS/);
  });
});
