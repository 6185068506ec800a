// Exercises on a page: a cell marked `exercise` is a starter the student completes, its `output`
// block the check; a cell `solution=NAME` answers exercise NAME and runs like any other cell (so
// the published output is real) with the exercise's check as its own; a ```hint block follows
// an exercise. Every pairing is checked here, with the place of the mistake.
import type { Token } from "markdown-it";
import { LecternError } from "../errors.ts";
import type { Cell } from "../types.ts";

/** The first word of a fence's info string. */
const infoWord = (t: Token) => t.info.trim().split(/\s+/)[0] ?? "";

/** The page's cells with each solution holding its exercise's check; throws at the first mistake. */
export function linkExercises(path: string, tokens: Token[], cells: Cell[]): Cell[] {
  const at = (line: number) => ({ file: path, line });
  const byName = new Map(cells.map((c) => [c.name, c]));
  const exercises = cells.filter((c) => c.attrs.exercise);
  const answered = new Map<string, Cell>();
  for (const cell of exercises) {
    if (cell.attrs.solution) throw new LecternError("E_ATTR_VALUE", "a cell is an exercise or a solution, not both", at(cell.line));
    if (cell.attrs.server) throw new LecternError("E_ATTR_VALUE", "an exercise cannot be a server: the page provides the servers, the student writes a client", at(cell.line));
    if (!cell.expected) throw new LecternError("E_EXERCISE", `exercise "${cell.name}" has no output block: write what a right answer prints in an \`output\` block right after it (that is the check)`, at(cell.line));
  }
  for (const cell of cells) {
    const target = cell.attrs.solution;
    if (!target) continue;
    const exercise = byName.get(target);
    const names = exercises.map((c) => c.name).join(", ") || "none";
    if (!exercise) throw new LecternError("E_NEEDS_UNKNOWN", `solution=${target}: this page has no cell "${target}" (its exercises: ${names})`, at(cell.line));
    if (!exercise.attrs.exercise) throw new LecternError("E_ATTR_VALUE", `solution=${target}: cell "${target}" (line ${exercise.line}) is not an exercise: add exercise to its fence`, at(cell.line));
    const earlier = answered.get(target);
    if (earlier) throw new LecternError("E_NAME_DUPLICATE", `exercise "${target}" already has its solution at line ${earlier.line}`, at(cell.line));
    answered.set(target, cell);
  }
  checkHints(path, tokens, cells);
  // A solution without a block of its own is held to its exercise's check.
  return cells.map((c) => (c.attrs.solution && !c.expected ? { ...c, expected: byName.get(c.attrs.solution)!.expected } : c));
}

/** A ```hint block comes right after an exercise cell or its output block (or another hint). */
function checkHints(path: string, tokens: Token[], cells: Cell[]): void {
  const exerciseTokens = new Set(cells.filter((c) => c.attrs.exercise).flatMap((c) => [c.token, c.expected!.token]));
  let after = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type !== "fence") continue;
    const hint = infoWord(t) === "hint";
    if (hint && !after) {
      throw new LecternError("E_EXERCISE", "a hint block goes right after an exercise cell (or after its output block)", { file: path, line: (t.map?.[0] ?? 0) + 1 });
    }
    // Only fences count as "right after": the next fence must be a hint, or the chain ends.
    after = exerciseTokens.has(i) || (hint && after);
    if (!hint && !exerciseTokens.has(i)) after = false;
  }
}
