// What the command line prints: the JSON document (README "Commands"), a finished cell as a
// block of text, the summary line, and the list of a page's cells.
import { formatDuration } from "../duration.ts";
import { allPass, judgedPages, passes, type Judged } from "../doctest/judge.ts";
import { tally } from "../outcome.ts";
import { captureNote, pageTrace } from "../trace/trace.ts";
import type { CellResult, PageResult, Plan } from "../types.ts";

export function jsonCell(cell: CellResult, withCached: boolean) {
  return {
    name: cell.name,
    line: cell.line,
    status: cell.status,
    exitCode: cell.exitCode,
    signal: cell.signal,
    durationMs: cell.durationMs,
    output: cell.output,
    reason: cell.reason,
    errors: cell.errors,
    ...(withCached ? { cached: cell.cached } : {}),
  };
}

export function allOk(pages: PageResult[]): boolean {
  return tally(pages.flatMap((p) => p.cells)).failed === 0;
}

/** The document `--json` prints (design.md: contract). */
export function jsonReport(pages: PageResult[], mode: "run" | "build"): string {
  return JSON.stringify(
    {
      ok: allOk(pages),
      pages: pages.map((p) => ({
        path: p.path,
        ports: p.ports,
        cells: p.cells.map((c) => jsonCell(c, mode === "build")),
        ...(mode === "run" ? { trace: pageTrace(p), capture: p.capture ?? null, captureSkipped: captureNote(p) } : {}),
      })),
    },
    null,
    2,
  );
}

export function jsonList(plan: Plan): string {
  return JSON.stringify(
    {
      path: plan.page.path,
      cells: plan.cells.map((c) => ({ name: c.name, line: c.line, lang: c.lang, server: c.attrs.server, needs: c.deps, ports: c.ports, with: c.together, ...(plan.page.network ? { host: hostOf(plan, c) } : {}) })),
    },
    null,
    2,
  );
}

/** The host of the page's network a cell runs on: its host=, else the first declared. */
const hostOf = (plan: Plan, c: Plan["cells"][number]) => c.attrs.host ?? plan.page.network!.hosts[0]!.name;

export function textList(plan: Plan): string {
  const rows = plan.cells.map((c) => {
    const kind = c.attrs.server ? "server" : c.attrs.skip ? "skip" : "";
    const needs = c.deps.length ? `needs ${c.deps.join(",")}` : "";
    const together = c.together.length ? `with ${c.together.join(",")}` : "";
    const ports = c.ports.length ? `ports ${c.ports.join(",")}` : "";
    const host = plan.page.network ? `on ${hostOf(plan, c)}` : "";
    return [`${plan.page.path}:${c.line}`, c.name, c.lang, kind, host, needs, together, ports];
  });
  const widths = rows[0]?.map((_, i) => Math.max(0, ...rows.map((r) => r[i]!.length))) ?? [];
  // The host and with columns only on a page that has them: lists of other pages read as they did.
  const shown = (i: number) => (i !== 4 && i !== 6) || widths[i]! > 0;
  const padded = (r: string[]) => r.map((v, i) => (i < r.length - 1 ? v.padEnd(widths[i]!) : v)).filter((_, i) => shown(i));
  return rows.map((r) => padded(r).join("  ").trimEnd()).join("\n") + (rows.length ? "\n" : "");
}

const MARK: Record<CellResult["status"], string> = { passed: "✓", failed: "✗", timeout: "⏱", skipped: "-" };

/** A finished cell: a header line with its status, then its transcript, indented. */
export function textCell(page: string, cell: CellResult): string {
  const exit = cell.signal ? `signal ${cell.signal}` : cell.exitCode === null ? "" : `exit ${cell.exitCode}`;
  const facts = [cell.status, exit, formatDuration(cell.durationMs)].filter(Boolean).join(", ");
  let out = `${MARK[cell.status]} ${cell.name} (${facts})  ${page}:${cell.line}\n`;
  if (cell.reason) out += `  ${cell.reason}\n`;
  const body = cell.output.endsWith("\n") ? cell.output.slice(0, -1) : cell.output;
  if (body !== "") out += body.split("\n").map((l) => `  │ ${l}`).join("\n") + "\n";
  return out;
}

export function summaryLine(pages: PageResult[]): string {
  const { passed, failed, skipped } = tally(pages.flatMap((p) => p.cells));
  return `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`;
}

/** The report of one cell: a line with its mark, name and place; for a failure, why, and the diff or the transcript. */
export function textVerdict(page: string, j: Judged): string {
  const where = `${page}:${j.cell.line}`;
  const { result } = j;
  if (result.status === "skipped") return `- ${result.name}  ${where} (skipped)\n`;
  if (j.updated) return `✎ ${result.name}  ${where} (output block ${j.updated})\n`;
  if (passes(j)) return `✓ ${result.name}  ${where}\n`;
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

/** The document of `run --json`, verdicts in the statuses, and a "diff" on each cell whose output does not match. */
export function jsonTestReport(pages: PageResult[], judged: Judged[][]): string {
  const verdicts = judgedPages(pages, judged);
  return JSON.stringify(
    {
      ok: allPass(judged),
      pages: verdicts.map((p, i) => ({
        path: p.path,
        ports: p.ports,
        cells: p.cells.map((c, k) => {
          const diff = judged[i]![k]!.diff;
          return { ...jsonCell(c, false), ...(diff !== null ? { diff } : {}) };
        }),
        trace: pageTrace(p),
      })),
    },
    null,
    2,
  );
}
