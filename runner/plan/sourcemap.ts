// Just enough of the source map format to turn a line of esbuild's output back into the
// line of the cell it came from (and a column of a cell to its page column), so messages point into the page.

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function decodeVlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

/**
 * Maps a 1-based generated line and 0-based column to the 1-based original line and 0-based
 * column: the last mapping at or before the column, else the line's first; null if unmapped.
 */
export function originalPlace(mappings: string, line: number, column: number): { line: number; column: number } | null {
  let origLine = 0;
  let origCol = 0;
  let found: { line: number; column: number } | null = null;
  const lines = mappings.split(";");
  for (let l = 0; l < lines.length && l < line; l++) {
    let genCol = 0;
    for (const seg of lines[l]!.split(",")) {
      if (seg === "") continue;
      const f = decodeVlq(seg);
      genCol += f[0] ?? 0;
      if (f.length >= 4) {
        origLine += f[2]!;
        origCol += f[3]!;
        if (l === line - 1 && (genCol <= column || found === null)) found = { line: origLine + 1, column: origCol };
      }
    }
  }
  return found;
}
