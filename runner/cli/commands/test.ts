// lectern test [PATH]...: run the pages and hold every cell to what its page says: its status
// (expect=, exit=) and its `output` block. --update writes the blocks instead; --junit for CI.
import { writeAtomic } from "../../atomic.ts";
import { LecternError } from "../../errors.ts";
import { createLimiter, mapLimit } from "../../execute/limit.ts";
import { executePlan } from "../../execute/execute.ts";
import { diffOutput, portNames } from "../../doctest/expect.ts";
import type { Io } from "../../io.ts";
import { cacheDirOf, executeOptions, parse, RUN_FLAGS } from "../options.ts";
import { planAll } from "../../plan/pages.ts";
import { jsonCell, summaryLine } from "../report.ts";
import type { CellResult, PageResult, Plan, PlannedCell } from "../../types.ts";
import { expectedText, updatePage } from "../../doctest/update.ts";

/** A cell's verdict: its run, held to its page. */
export interface Judged {
  cell: PlannedCell;
  result: CellResult;
  /** The unified diff of its block against its transcript; null when it matches or has no block. */
  diff: string | null;
  /** Set by --update: the block was written from this run. */
  updated: "added" | "updated" | null;
}

const ok = (j: Judged) => j.result.status === "passed" && j.diff === null;

/** A cell passes when its status is passed and, if it has an output block, its transcript matches it. */
export function judge(plan: Plan, page: PageResult): Judged[] {
  return page.cells.map((result) => {
    const cell = plan.cells.find((c) => c.name === result.name)!;
    const diff = cell.expected && result.status !== "skipped" ? diffOutput(cell.expected.text, result.output, page.ports) : null;
    return { cell, result, diff, updated: null };
  });
}

/** An output block that names a port the page does not have can never match: the page is wrong. */
export function checkBlockPorts(plan: Plan): void {
  for (const cell of plan.cells) {
    if (!cell.expected) continue;
    for (const name of portNames(cell.expected.text)) {
      if (plan.ports.includes(name)) continue;
      const have = plan.ports.length > 0 ? `its ports: ${plan.ports.join(", ")}` : "it has none";
      throw new LecternError("E_PORT_VALUE", `the output block of cell "${cell.name}" has {port:${name}}, but this page has no port "${name}" (${have})`, {
        file: plan.page.path,
        line: cell.expected.line,
      });
    }
  }
}

/** The report of one cell: a line with its mark, name and place; for a failure, why, and the diff or the transcript. */
export function textVerdict(page: string, j: Judged): string {
  const where = `${page}:${j.cell.line}`;
  const { result } = j;
  if (result.status === "skipped") return `- ${result.name}  ${where} (skipped)\n`;
  if (j.updated) return `✎ ${result.name}  ${where} (output block ${j.updated})\n`;
  if (ok(j)) return `✓ ${result.name}  ${where}\n`;
  let out = `✗ ${result.name}  ${where}\n`;
  if (result.status !== "passed") out += `  ${result.status}${result.reason ? `: ${result.reason}` : ""}\n`;
  if (j.diff !== null) {
    out += `  output does not match the block at ${page}:${j.cell.expected!.line}\n`;
    out += indent(j.diff, "  ");
  } else if (result.output !== "") {
    out += indent(result.output, "  │ ");
  }
  return out;
}

function indent(text: string, prefix: string): string {
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  return body.split("\n").map((l) => prefix + l).join("\n") + "\n";
}

/** Results as the verdicts see them: a cell whose output does not match has failed. */
function judgedPages(pages: PageResult[], judged: Judged[][]): PageResult[] {
  return pages.map((p, i) => ({
    ...p,
    cells: judged[i]!.map((j) =>
      j.diff === null || j.result.status !== "passed"
        ? j.result
        : { ...j.result, status: "failed" as const, reason: `its output does not match the block at ${p.path}:${j.cell.expected!.line}` },
    ),
  }));
}

/** The document of `run --json`, verdicts in the statuses, and a "diff" on each cell whose output does not match. */
export function jsonTestReport(pages: PageResult[], judged: Judged[][]): string {
  const verdicts = judgedPages(pages, judged);
  return JSON.stringify(
    {
      ok: judged.every((js) => js.every((j) => ok(j) || j.result.status === "skipped")),
      pages: verdicts.map((p, i) => ({
        path: p.path,
        ports: p.ports,
        cells: p.cells.map((c, k) => {
          const diff = judged[i]![k]!.diff;
          return { ...jsonCell(c, false), ...(diff !== null ? { diff } : {}) };
        }),
        trace: p.trace,
      })),
    },
    null,
    2,
  );
}

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
    failures: js.filter((j) => j.result.status !== "skipped" && !ok(j)).length,
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
      } else if (ok(j)) {
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

/** --update: the blocks of the passing cells whose output changed (or had none), written into their pages. */
async function update(plans: Plan[], pages: PageResult[], judged: Judged[][], io: Io): Promise<boolean> {
  let allWritten = true;
  for (const [i, plan] of plans.entries()) {
    const stale = judged[i]!.filter((j) => j.result.status === "passed" && (j.cell.expected === null || j.diff !== null));
    if (stale.length === 0) continue;
    const updates = stale.map((j) => ({ cell: j.cell, text: expectedText(j.result.output, pages[i]!.ports, j.cell.expected?.text) }));
    if ((await updatePage(plan.page, updates)) === "changed") {
      io.stderr.write(`lectern: ${plan.page.path}: the page changed while its cells ran; not updated (run again)\n`);
      allWritten = false;
      continue;
    }
    for (const j of stale) {
      j.updated = j.cell.expected === null ? "added" : "updated";
      j.diff = null;
    }
  }
  return allWritten;
}

/** In a terminal, one live line of what runs; piped, nothing until the report. */
function liveLine(io: Io, quiet: boolean) {
  const running = new Set<string>();
  const tty = Boolean(io.stdout.isTTY) && !quiet;
  return {
    event(e: { type: string; page: string; cell?: string; result?: CellResult }) {
      if (!tty) return;
      if (e.type === "start") running.add(e.cell!);
      if (e.type === "end") running.delete(e.result!.name);
      io.stdout.write(`\r\x1b[K${running.size > 0 ? `running: ${[...running].join(", ")}` : ""}`);
    },
    end() {
      if (tty) io.stdout.write("\r\x1b[K");
    },
  };
}

export async function testCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...RUN_FLAGS,
    json: { type: "boolean" },
    junit: { type: "string" },
    update: { type: "boolean" },
  });
  const plans = await planAll(positionals.length > 0 ? positionals : ["notebook"], cacheDirOf(values));
  if (!values.update) plans.forEach(checkBlockPorts);
  const json = Boolean(values.json);
  const live = liveLine(io, json);
  const options = { ...executeOptions(values, io), onEvent: live.event };
  // Pages run side by side, as many at once as cells may (servers take no cell slot).
  const pages = await mapLimit(plans, createLimiter(options.jobs.size), (plan) => executePlan(plan, options));
  live.end();
  const judged = plans.map((plan, i) => judge(plan, pages[i]!));
  const written = values.update ? await update(plans, pages, judged, io) : true;

  if (typeof values.junit === "string") await writeAtomic(values.junit, junitReport(pages, judged));
  const verdicts = judgedPages(pages, judged);
  if (json) {
    io.stdout.write(jsonTestReport(pages, judged) + "\n");
  } else {
    const report = plans.map((_, i) => judged[i]!.map((j) => textVerdict(pages[i]!.path, j)).join("")).join("");
    io.stdout.write(report + summaryLine(verdicts) + "\n");
  }
  const passed = judged.every((js) => js.every((j) => ok(j) || j.result.status === "skipped"));
  return passed && written ? 0 : 1;
}
