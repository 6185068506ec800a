// What the command line prints: the JSON document (README "Commands"), a finished cell as a
// block of text, the summary line, and the list of a page's cells.
import { formatDuration } from "../duration.ts";
import { tally } from "../outcome.ts";
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
        ...(mode === "run" ? { trace: p.trace } : {}),
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
      cells: plan.cells.map((c) => ({ name: c.name, line: c.line, lang: c.lang, server: c.attrs.server, needs: c.deps, ports: c.ports })),
    },
    null,
    2,
  );
}

export function textList(plan: Plan): string {
  const rows = plan.cells.map((c) => {
    const kind = c.attrs.server ? "server" : c.attrs.skip ? "skip" : "";
    const needs = c.deps.length ? `needs ${c.deps.join(",")}` : "";
    const ports = c.ports.length ? `ports ${c.ports.join(",")}` : "";
    return [`${plan.page.path}:${c.line}`, c.name, c.lang, kind, needs, ports];
  });
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(0, ...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((v, i) => (i < 5 ? v.padEnd(widths[i]!) : v)).join("  ").trimEnd()).join("\n") + (rows.length ? "\n" : "");
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
