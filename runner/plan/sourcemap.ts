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

/** Maps a 1-based generated line and 0-based column to the 1-based original line, if mapped. */
export function originalLine(mappings: string, line: number, column: number): number | null {
  let origLine = 0;
  let found: number | null = null;
  const lines = mappings.split(";");
  for (let l = 0; l < lines.length && l < line; l++) {
    let genCol = 0;
    for (const seg of lines[l]!.split(",")) {
      if (seg === "") continue;
      const f = decodeVlq(seg);
      genCol += f[0] ?? 0;
      if (f.length >= 4) {
        origLine += f[2]!;
        if (l === line - 1 && genCol <= column) found = origLine + 1;
        else if (l === line - 1 && found === null) found = origLine + 1;
      }
    }
  }
  return found;
}

/**
 * The 1-based page column of a 0-based column on line `codeLine` (1-based) of a cell's code:
 * list indentation and `> ` markers come before it in the page.
 */
export function pageColumn(source: string, cell: { line: number; code: string }, codeLine: number, column: number): number {
  const code = cell.code.split("\n")[codeLine - 1] ?? "";
  const page = source.split(/\r\n|\r|\n/)[cell.line + codeLine - 1] ?? "";
  const prefix = page.endsWith(code) ? page.length - code.length : Math.max(0, page.length - code.length);
  return prefix + column + 1;
}
