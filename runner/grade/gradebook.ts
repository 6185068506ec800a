// Graded submissions -> the gradebook: a table on the terminal, CSV and JUnit XML (a row or a
// testsuite per submission, a column or a testcase per exercise), and an HTML report with each
// failure's diff and what the program printed. Everything a student's program printed is escaped.
import { junitReport } from "../doctest/junit.ts";
import type { Judged } from "../doctest/judge.ts";
import { escapeHtml } from "../render/html.ts";
import type { GradedSubmission } from "./grade.ts";

/** A CSV field, quoted when it must be (RFC 4180); a leading = + - @ is defused for spreadsheets. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function gradesCsv(graded: GradedSubmission[]): string {
  const exercises = graded[0]?.verdicts.map((v) => v.exercise.name) ?? [];
  const rows = [["submission", ...exercises, "passed", "of"]];
  for (const g of graded) rows.push([g.submission.name, ...g.verdicts.map((v) => v.reason), String(g.verdicts.filter((v) => v.passed).length), String(g.verdicts.length)]);
  return rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** JUnit XML as `lectern test --junit` writes it: a testsuite per submission, a testcase per exercise. */
export function gradesJunit(graded: GradedSubmission[]): string {
  const judged: Judged[][] = graded.map((g) =>
    g.verdicts.map((v): Judged => {
      const base = { cell: v.exercise, updated: null };
      // A run that printed the wrong thing fails on its diff; any other failure on its short reason.
      if (v.passed || (v.result.status === "passed" && v.diff !== null)) return { ...base, result: v.result, diff: v.diff };
      const status = v.result.status === "timeout" ? "timeout" : "failed";
      return { ...base, result: { ...v.result, status, reason: v.reason.replace(/^(failed|timed out): /, "") }, diff: null };
    }),
  );
  return junitReport(graded.map((g) => g.run), judged);
}

/** The table for the terminal: a row per submission, a column per exercise. */
export function gradesTable(graded: GradedSubmission[]): string {
  const exercises = graded[0]?.verdicts.map((v) => v.exercise.name) ?? [];
  const rows = [["submission", ...exercises], ...graded.map((g) => [g.submission.name, ...g.verdicts.map((v) => (v.passed ? "✓ passed" : `✗ ${v.reason}`))])];
  const widths = rows[0]!.map((_, i) => Math.min(60, Math.max(...rows.map((r) => r[i]!.length))));
  const cut = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  return rows.map((r) => r.map((c, i) => cut(c, widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}

const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";
const REPORT_STYLE = `body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#1f2328;background:#fbfbf9}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #d5dae0;padding:.3rem .6rem;text-align:left;vertical-align:top}
.passed{color:#116329}.failed{color:#c4202b}pre{background:#1c2026;color:#e3e6ea;padding:.6rem;overflow:auto;max-height:24rem}
.del{color:#ff9b94}.add{color:#a5e075}summary{cursor:pointer}`;

/** The report: the gradebook as a table, then each failure with its diff (or what it printed). */
export function gradesHtml(graded: GradedSubmission[], page: string): string {
  const exercises = graded[0]?.verdicts.map((v) => v.exercise.name) ?? [];
  const id = (s: number, e: number) => `s${s}-e${e}`;
  const head = `<tr><th>submission</th>${exercises.map((e) => `<th>${escapeHtml(e)}</th>`).join("")}<th>passed</th></tr>`;
  const body = graded.map((g, s) => {
    const cells = g.verdicts.map((v, e) => (v.passed ? `<td class="passed">✓ passed</td>` : `<td class="failed">✗ <a href="#${id(s, e)}">${escapeHtml(v.reason)}</a></td>`));
    return `<tr><th>${escapeHtml(g.submission.name)}</th>${cells.join("")}<td>${g.verdicts.filter((v) => v.passed).length} of ${g.verdicts.length}</td></tr>`;
  });
  const failures = graded.flatMap((g, s) =>
    g.verdicts.flatMap((v, e) => {
      if (v.passed) return [];
      const diff = v.diff === null ? "" : `<p>Expected (<span class="del">-</span>) against printed (<span class="add">+</span>):</p><pre>${v.diff.split("\n").map((l) => `<span class="${l.startsWith("-") ? "del" : l.startsWith("+") ? "add" : ""}">${escapeHtml(l)}</span>`).join("\n")}</pre>`;
      const printed = v.result.output === "" ? "" : `<details${v.diff === null ? " open" : ""}><summary>What it printed</summary><pre>${escapeHtml(v.result.output)}</pre></details>`;
      return [`<section id="${id(s, e)}"><h3>${escapeHtml(g.submission.name)}: ${escapeHtml(v.exercise.name)}</h3><p class="failed">${escapeHtml(v.reason)}</p>${diff}${printed}</section>`];
    }),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="referrer" content="no-referrer">
<title>Grades: ${escapeHtml(page)}</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<h1>Grades: ${escapeHtml(page)}</h1>
<table>
${head}
${body.join("\n")}
</table>
<h2>Failures</h2>
${failures.length > 0 ? failures.join("\n") : "<p>None: every submission passed every exercise.</p>"}
</body>
</html>
`;
}
