// `lectern check` for the languages TypeScript's compiler does not read: Python cells through
// Python's own compiler (what `python3 -m py_compile` runs, without writing a .pyc), C cells
// through `cc -fsyntax-only -Wall` with the flags they run with. Nothing runs; every diagnostic is
// placed at its page line and column, as TypeScript's are.
import { availableParallelism } from "node:os";
import { placeInPage } from "../errors.ts";
import { createLimiter, mapLimit } from "../execute/limit.ts";
import { C_FLAGS, cSource, parseDiagnostics, runCc } from "../execute/native.ts";
import { runProgram, type Tool } from "../execute/tools.ts";
import type { Cell, Page } from "../types.ts";
import type { CheckDiagnostic } from "./typecheck.ts";

export interface CheckedCell {
  page: Page;
  cell: Cell;
}

const at = (c: CheckedCell, line: number, column: number) => placeInPage(c.page.source, c.cell, Math.max(0, line - c.cell.line - 1), Math.max(0, column - 1));

// Reads [[filename, code], ...] on stdin; prints one JSON line per problem: the cell's index, the
// line and column, the kind (SyntaxError, SyntaxWarning...) and the message.
const PY_CHECK = `
import json, sys, warnings
for i, (name, code) in enumerate(json.load(sys.stdin)):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            compile(code, name, "exec", dont_inherit=True)
        except SyntaxError as e:
            print(json.dumps([i, e.lineno or 0, e.offset or 0, type(e).__name__, e.msg]))
    for w in caught:
        print(json.dumps([i, w.lineno or 0, 0, w.category.__name__, str(w.message)]))
`;

/** Every Python cell in one python3 process: a syntax error (or warning) at its place in the page. */
export function checkPython(cells: CheckedCell[], python: Tool): Promise<CheckDiagnostic[]> {
  // Blank lines up to the fence, as when the cell runs: the compiler's line numbers are the page's.
  const input = JSON.stringify(cells.map((c) => [c.page.path, "\n".repeat(c.cell.line) + c.cell.code]));
  return runProgram(python.path, ["-I", "-c", PY_CHECK], { input }).then(({ code, stdout, stderr }) => {
    if (code !== 0) throw new Error(`python3 could not check the cells: ${stderr.trim()}`);
    return stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [i, lineNo, column, kind, message] = JSON.parse(line) as [number, number, number, string, string];
        const c = cells[i]!;
        const place = at(c, lineNo, column);
        const category = kind.endsWith("Warning") ? "warning" : "error";
        return { page: c.page.path, cell: c.cell.name, ...place, category, code: kind, message };
      });
  });
}

/** Each C cell through `cc -fsyntax-only -Wall`, a few at a time: its errors and warnings in the page. */
export async function checkC(cells: CheckedCell[], cc: Tool): Promise<CheckDiagnostic[]> {
  const limiter = createLimiter(Math.max(1, availableParallelism()));
  const found = await mapLimit(cells, limiter, async (c) => {
    const { stderr } = await runCc(cc, [...C_FLAGS, "-fsyntax-only", "-fdiagnostics-plain-output", "-x", "c", "-"], cSource(c.cell, c.page.path));
    // Notes belong to the diagnostic before them; a header's own problems are the header's.
    return parseDiagnostics(stderr)
      .filter((d) => d.category !== "note" && d.file === c.page.path)
      .map((d): CheckDiagnostic => ({ page: c.page.path, cell: c.cell.name, ...at(c, d.line, d.column), category: d.category as "error" | "warning", code: "cc", message: d.message }));
  });
  return found.flat();
}
