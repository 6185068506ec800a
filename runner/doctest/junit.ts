// JUnit XML of a test run, as CI systems read it: a testsuite per page, a testcase per cell,
// the diff or the transcript in a failure.
import type { PageResult } from "../types.ts";
import { passes, type Judged } from "./judge.ts";

const xml = (s: string) =>
  s
    // Characters XML 1.0 cannot carry at all (control characters but tab, newline, return).
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** JUnit XML, as CI systems read it: a testsuite per page, a testcase per cell. */
export function junitReport(pages: PageResult[], judged: Judged[][]): string {
  const count = (js: Judged[]) => ({
    tests: js.length,
    failures: js.filter((j) => j.result.status !== "skipped" && !passes(j)).length,
    skipped: js.filter((j) => j.result.status === "skipped").length,
  });
  const all = count(judged.flat());
  const total = pages.reduce((s, p) => s + p.durationMs, 0);
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="lectern" tests="${all.tests}" failures="${all.failures}" skipped="${all.skipped}" time="${seconds(total)}">`,
  ];
  pages.forEach((page, i) => {
    const js = judged[i]!;
    const c = count(js);
    const path = xml(page.path);
    out.push(`  <testsuite name="${path}" tests="${c.tests}" failures="${c.failures}" errors="0" skipped="${c.skipped}" time="${seconds(page.durationMs)}" timestamp="${page.startedAt}">`);
    for (const j of js) {
      const open = `    <testcase name="${xml(j.result.name)}" classname="${path}" file="${path}" line="${j.cell.line}" time="${seconds(j.result.durationMs)}"`;
      if (j.result.status === "skipped") {
        out.push(`${open}>`, `      <skipped/>`, `    </testcase>`);
      } else if (passes(j)) {
        out.push(`${open}/>`);
      } else {
        const message = j.result.status !== "passed" ? `${j.result.status}${j.result.reason ? `: ${j.result.reason}` : ""}` : "output does not match";
        const body = j.diff ?? j.result.output;
        out.push(`${open}>`, `      <failure message="${xml(message)}" type="${j.diff !== null ? "output" : j.result.status}">${xml(body)}</failure>`);
        if (j.result.output !== "") out.push(`      <system-out>${xml(j.result.output)}</system-out>`);
        out.push(`    </testcase>`);
      }
    }
    out.push(`  </testsuite>`);
  });
  out.push(`</testsuites>`);
  return out.join("\n") + "\n";
}
