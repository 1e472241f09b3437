/**
 * Unrolls the WGSL loops marked `// unroll`: WGSL has no unroll attribute, and a driver that keeps such a loop
 * rolled must keep every function-local array it indexes in slow local memory instead of registers. A marked loop
 * must read `for (var i = START; i < BOUND; i++) {` with START a literal and BOUND a name given in `bounds`; it
 * becomes one block per value, `{ const i = 0u; body }`, so every index into a register array is a constant
 * expression: nothing is left for the driver to fold or for robustness to clamp. Nested marked loops unroll too.
 */
export function unrollLoops(code: string, bounds: Record<string, number>): string {
  const marker = /^([ \t]*)\/\/ unroll\n[ \t]*for \(var (\w+) = (\d+)u; \2 < (\w+); \2\+\+\) \{\n/m;
  for (let match = marker.exec(code); match; match = marker.exec(code)) {
    const [header, indent, name, start, bound] = match;
    const count = bounds[bound];
    if (count === undefined) throw new Error(`loop over ${name} marked "unroll" has bound ${bound}, which has no value`);
    const bodyStart = match.index + header.length;
    let depth = 1;
    let end = bodyStart;
    for (; depth > 0; end++) {
      if (end >= code.length) throw new Error(`loop over ${name} marked "unroll" has no closing brace`);
      if (code[end] === '{') depth++;
      else if (code[end] === '}') depth--;
    }
    // code[end - 1] is the loop's closing brace; its line holds only the indent before it.
    const body = code.slice(bodyStart, code.lastIndexOf('\n', end - 1) + 1);
    let copies = '';
    for (let value = Number(start); value < count; value++) copies += `${indent}{\n${indent}  const ${name} = ${value}u;\n${body}${indent}}\n`;
    const after = code[end] === '\n' ? end + 1 : end;
    code = code.slice(0, match.index) + copies + code.slice(after);
  }
  return code;
}
