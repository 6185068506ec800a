// One submission graded: the page's exercise cells with the student's code, run with the
// servers (and any other cells) they need, in a run of their own (its own network namespace,
// scratch folder and processes: nothing is shared between students), each held to its
// exercise's check. Solutions never run here.
import { LecternError } from "../errors.ts";
import { diffOutput } from "../doctest/expect.ts";
import { executePlan, type ExecuteOptions } from "../execute/execute.ts";
import { notRun } from "../execute/verdict.ts";
import { planPage } from "../plan/plan.ts";
import { pairResults } from "../outcome.ts";
import type { CellResult, Page, PageResult, Plan, PlannedCell } from "../types.ts";
import type { Submission } from "./submissions.ts";

/** An exercise of one submission: passed, or failed with a short reason (and the diff, when it printed something else). */
export interface Verdict {
  exercise: PlannedCell;
  passed: boolean;
  /** "passed", or a reason in a few words: "output differs", "timed out after 10 s", "missing: no shout.ts". */
  reason: string;
  diff: string | null;
  result: CellResult;
}

export interface GradedSubmission {
  submission: Submission;
  verdicts: Verdict[];
  /** The run, as `run --json` would report it (its path is the submission's name). */
  run: PageResult;
}

/** The teacher's page with the student's code in its exercise cells; those without code stay as they were (not run). */
function studentPage(page: Page, submission: Submission): Page {
  const cells = page.cells.map((c) => {
    const code = c.attrs.exercise ? submission.code.get(c.name) : undefined;
    return code === undefined ? c : { ...c, code, attrs: { ...c.attrs, skip: false } };
  });
  return { ...page, cells };
}

/** The first line of a reason, without the page's path (the student's code is not the page), at most 160 characters. */
function short(text: string, page: string): string {
  const line = (text.split("\n").find((l) => l.trim() !== "") ?? "").replaceAll(`${page}:`, "line ").trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function verdictOf(exercise: PlannedCell, result: CellResult, ports: Record<string, number>, page: string): Verdict {
  const diff = diffOutput(exercise.expected!.text, result.output, ports);
  const base = { exercise, result, diff };
  if (result.cause instanceof LecternError && result.cause.code === "E_COMPILE") return { ...base, passed: false, reason: compileReason(result.cause, exercise) };
  switch (result.status) {
    case "passed":
      return diff === null ? { ...base, passed: true, reason: "passed" } : { ...base, passed: false, reason: "output differs" };
    case "timeout":
      return { ...base, passed: false, reason: `timed out: ${short(result.reason ?? "", page)}` };
    default: {
      const how = result.reason ?? (result.exitCode !== null ? `exited with status ${result.exitCode}` : result.signal ? `killed by ${result.signal}` : "failed");
      // An uncaught error's code (ENOENT, ECONNREFUSED) says more than the exit status alone.
      const codes = result.errors.length > 0 ? ` (${result.errors.join(", ")})` : "";
      return { ...base, passed: false, reason: `failed: ${short(how, page)}${codes}` };
    }
  }
}

/**
 * Plans the student's page. Code that does not compile fails its own exercise only: that cell is
 * left out (not run) and the page planned again, so the student's other exercises still count.
 */
async function planStudent(plan: Plan, submission: Submission, broken: Map<string, string>): Promise<Plan> {
  for (;;) {
    const code = new Map([...submission.code].filter(([name]) => !broken.has(name)));
    try {
      return await planPage(studentPage(plan.page, { ...submission, code }));
    } catch (err) {
      const cell = err instanceof LecternError && err.code === "E_COMPILE" ? cellAt(plan, err.line, code) : undefined;
      if (!cell) throw err;
      broken.set(cell.name, compileReason(err as LecternError, cell));
    }
  }
}

/** The exercise with the student's code whose lines (as placed in the page) hold `line`. */
function cellAt(plan: Plan, line: number | null, code: Map<string, string>): PlannedCell | undefined {
  if (line === null) return undefined;
  return plan.cells.find((c) => code.has(c.name) && line > c.line && line <= c.line + code.get(c.name)!.split("\n").length);
}

/** "does not compile: line 2: Unexpected ";"", the line counted in the student's own file. */
function compileReason(err: LecternError, cell: PlannedCell): string {
  const what = err.message.replace(/^cell "[^"]*" does not compile: /, "");
  return err.line !== null && err.line > cell.line ? `does not compile: line ${err.line - cell.line}: ${short(what, "")}` : `does not compile: ${short(what, "")}`;
}

/** Grades one submission; a page the student's code makes invalid otherwise (a dynamic port name, say) fails every exercise that has code. */
export async function gradeSubmission(plan: Plan, submission: Submission, options: ExecuteOptions): Promise<GradedSubmission> {
  const exercises = plan.cells.filter((c) => c.attrs.exercise);
  const path = plan.page.path;
  // Exercises not to run, and why: the starter handed in as it was, code that does not compile.
  const broken = new Map(exercises.filter((e) => submission.code.get(e.name) === e.code).map((e) => [e.name, "missing: the starter, unchanged"]));
  let run: PageResult = { path, ports: {}, cells: [], startedAt: new Date().toISOString(), durationMs: 0 };
  let invalid: string | null = null;
  try {
    const planned = await planStudent(plan, submission, broken);
    const written = exercises.filter((e) => submission.code.has(e.name) && !broken.has(e.name)).map((e) => e.name);
    // No trace: runs of one page side by side would write one capture file.
    if (written.length > 0) run = await executePlan(planned, { ...options, only: written, trace: false });
  } catch (err) {
    if (!(err instanceof LecternError) || err.code === "E_SANDBOX") throw err;
    invalid = `invalid: ${short(err.report(), path)}`;
  }
  const verdicts = pairResults(exercises, run).map(({ cell: exercise, result }): Verdict => {
    const missing = submission.missing.get(exercise.name);
    const failed = (reason: string): Verdict => ({ exercise, passed: false, reason, diff: null, result: notRun(exercise, "failed", reason) });
    if (missing !== undefined) return failed(`missing: ${missing}`);
    if (broken.has(exercise.name)) return failed(broken.get(exercise.name)!);
    if (!result) return failed(invalid ?? "not run");
    return verdictOf(exercise, result, run.ports, path);
  });
  return { submission, verdicts, run: { ...run, path: submission.name } };
}
