// Progress for a person, as cells start and end: in a terminal a live line, piped plain lines.
import { StringDecoder } from "node:string_decoder";
import type { ExecuteEvent } from "../execute/execute.ts";
import { isFailure } from "../outcome.ts";
import type { Io } from "../io.ts";
import { formatDuration } from "../duration.ts";
import { allOk, summaryLine, textCell } from "./report.ts";
import type { CellResult, PageResult, Plan } from "../types.ts";

/**
 * For `run`: each finished cell as a block under its name, and a live line of what runs. With
 * `live` (a server that keeps serving), output is printed as it arrives instead, line by line.
 */
export function progress(io: Io, quiet: boolean, live = false): (event: ExecuteEvent) => void {
  const running = new Set<string>();
  const decoders = new Map<string, StringDecoder>();
  const partial = new Map<string, string>();
  const tty = Boolean(io.stdout.isTTY) && !quiet;
  const out = io.stdout;
  return (event) => {
    if (quiet) return;
    if (tty) out.write("\r\x1b[K");
    if (event.type === "ports" && Object.keys(event.ports).length > 0) {
      out.write(`${event.page}: ports ${Object.entries(event.ports).map(([k, v]) => `${k}=${v}`).join(" ")}\n`);
    } else if (event.type === "start") {
      running.add(event.cell);
      if (!tty) out.write(`… ${event.cell} started\n`);
    } else if (event.type === "ready") {
      if (!tty) out.write(`… ${event.cell} is listening\n`);
    } else if (event.type === "output" && live && event.stream !== "stdin") {
      const key = `${event.cell}\0${event.stream}`;
      if (!decoders.has(key)) decoders.set(key, new StringDecoder("utf8"));
      const text = (partial.get(key) ?? "") + decoders.get(key)!.write(event.data);
      const lines = text.split("\n");
      partial.set(key, lines.pop()!);
      for (const line of lines) out.write(`  ${event.cell} │ ${line}\n`);
    } else if (event.type === "end") {
      running.delete(event.result.name);
      if (live) {
        // A last line without its newline is shown too.
        for (const stream of ["stdout", "stderr"]) {
          const key = `${event.result.name}\0${stream}`;
          const rest = (partial.get(key) ?? "") + (decoders.get(key)?.end() ?? "");
          if (rest !== "") out.write(`  ${event.result.name} │ ${rest}\n`);
          partial.delete(key);
        }
      }
      out.write(textCell(event.page, live ? { ...event.result, output: "" } : event.result));
    }
    if (tty && running.size > 0) out.write(`running: ${[...running].join(", ")}`);
  };
}

/**
 * Progress of a build of many pages: in a terminal one live line (pages and cells done,
 * running, failed); piped, a line per page. Failed cells are always shown in full.
 */
export function buildProgress(io: Io, quiet: boolean, plans: Plan[]) {
  const tty = Boolean(io.stdout.isTTY) && !quiet;
  const out = io.stdout;
  const counts = { pages: 0, done: 0, cached: 0, failed: 0 };
  const running = new Set<string>();
  const total = plans.reduce((n, p) => n + p.cells.length, 0);
  const line = () => {
    if (!tty) return;
    out.write(`\r\x1b[Kpages ${counts.pages}/${plans.length} · cells ${counts.done}/${total} done (${counts.cached} cached), ${running.size} running, ${counts.failed} failed`);
  };
  const print = (text: string) => {
    if (tty) out.write("\r\x1b[K");
    out.write(text);
    line();
  };
  return {
    event(event: ExecuteEvent): void {
      if (quiet) return;
      if (event.type === "start") running.add(`${event.page}#${event.cell}`);
      if (event.type === "end") {
        running.delete(`${event.page}#${event.result.name}`);
        counts.done++;
        if (event.result.cached) counts.cached++;
        if (isFailure(event.result.status)) {
          counts.failed++;
          print(textCell(event.page, event.result));
          return;
        }
      }
      line();
    },
    pageDone(result: PageResult): void {
      counts.pages++;
      if (quiet) return;
      if (tty) {
        line();
        return;
      }
      const cached = result.cells.filter((c) => c.cached).length;
      const facts = summaryLine([result]) + (cached ? `, ${cached} cached` : "");
      // After Ctrl-C a page's counts say where it was stopped, not how it went: no ✓ or ✗.
      const mark = io.signal?.aborted ? "- " : allOk([result]) ? "✓ " : "✗ ";
      print(`${mark}${result.path}: ${io.signal?.aborted ? "interrupted: " : ""}${facts} (${formatDuration(result.durationMs)})\n`);
    },
    end(): void {
      if (tty) out.write("\r\x1b[K");
    },
  };
}

/** In a terminal, one live line of what runs; piped, nothing until the report. */
export function runningLine(io: Io, quiet: boolean) {
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
