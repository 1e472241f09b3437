/** Prints rows as an aligned text table (numbers right-aligned). */
export function formatTable(columns: string[], rows: (string | number)[][]): string {
  const cells = [columns, ...rows.map((row) => row.map(String))];
  const widths = columns.map((_, c) => Math.max(...cells.map((row) => row[c].length)));
  const line = (row: string[], isHeader: boolean) =>
    row
      .map((cell, c) => (isHeader || typeof rows[0]?.[c] !== 'number' ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ');
  return [line(cells[0], true), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map((r) => line(r, false))].join('\n');
}
