// lectern grade PAGE SUBMISSION...: each student's exercise cells run against the page's checks
// and servers, each submission in a sandboxed run of its own, into a gradebook (CSV, JUnit XML,
// an HTML report) in --out DIR.
import { join } from "node:path";
import { writeAtomic } from "../../atomic.ts";
import { LecternError } from "../../errors.ts";
import { sandboxFor } from "../../execute/confine.ts";
import { createLimiter, mapLimit } from "../../execute/limit.ts";
import type { Io } from "../../io.ts";
import { onePage } from "../../plan/pages.ts";
import { gradeSubmission } from "../../grade/grade.ts";
import { gradesCsv, gradesHtml, gradesJunit, gradesTable } from "../../grade/gradebook.ts";
import { readSubmissions } from "../../grade/submissions.ts";
import { cacheDirOf, COMMANDS, executeOptions, parse, usage } from "../options.ts";
import { pageOptions, preparePages } from "../settings.ts";

export const GRADE_FILES = ["grades.csv", "grades.xml", "grades.html"] as const;

export async function gradeCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMANDS.grade.flags);
  const [pagePath, ...paths] = positionals;
  if (pagePath === undefined || paths.length === 0) throw usage("grade takes a PAGE and at least one SUBMISSION");
  const plan = await onePage([pagePath], "grade", cacheDirOf(values));
  await preparePages([plan], io);
  const exercises = plan.cells.filter((c) => c.attrs.exercise);
  if (exercises.length === 0) throw usage(`${pagePath} has no exercise cells (mark a starter cell with exercise)`);
  const submissions = await readSubmissions(paths, pagePath, exercises);
  // Other people's code: sandboxed, unless the teacher says otherwise on purpose.
  const options = pageOptions(plan, { ...executeOptions(values, io), requireSandbox: !values["allow-unsandboxed"] });
  await sandboxFor(options).catch((err: unknown) => {
    if (!(err instanceof LecternError)) throw err;
    throw new LecternError("E_SANDBOX", err.message.replace(/^--require-sandbox: /, "grade runs students' programs only in a sandbox, and ").replace("or run without --require-sandbox", "or grade with --allow-unsandboxed (students' programs could then read your files and each other's)"));
  });
  // Submissions run side by side; the shared limiter in `options.jobs` bounds their cells.
  let done = 0;
  const graded = await mapLimit(submissions, createLimiter(options.jobs.size), async (s) => {
    const g = await gradeSubmission(plan, s, options);
    if (!io.signal?.aborted) io.stderr.write(`graded ${++done}/${submissions.length}: ${s.name}\n`);
    return g;
  });
  const outDir = (values.out as string | undefined) ?? "grades";
  if (io.signal?.aborted) {
    io.stderr.write(`lectern: interrupted: no gradebook was written to ${outDir}/\n`);
    return 130;
  }
  const files: Record<(typeof GRADE_FILES)[number], string> = { "grades.csv": gradesCsv(graded), "grades.xml": gradesJunit(graded), "grades.html": gradesHtml(graded, pagePath) };
  for (const [name, text] of Object.entries(files)) await writeAtomic(join(outDir, name), text);
  const perfect = graded.filter((g) => g.verdicts.every((v) => v.passed)).length;
  io.stdout.write(gradesTable(graded));
  io.stdout.write(`${perfect} of ${graded.length} submission${graded.length === 1 ? "" : "s"} passed every exercise; gradebook: ${GRADE_FILES.map((f) => join(outDir, f)).join(", ")}\n`);
  return perfect === graded.length ? 0 : 1;
}
