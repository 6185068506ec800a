// Progress for a person: each finished cell as a block under its name, and in a terminal one
// live line of what is running; piped, plain lines only.
import type { ExecuteEvent } from "./execute.ts";
import type { Io } from "./io.ts";
import { textCell } from "./report.ts";

export function progress(io: Io, quiet: boolean): (event: ExecuteEvent) => void {
  const running = new Set<string>();
  const tty = Boolean(io.stdout.isTTY) && !quiet;
  const out = io.stdout;
  const label = (page: string, cell: string, multi: boolean) => (multi ? `${page}#${cell}` : cell);
  const pages = new Set<string>();
  return (event) => {
    if (quiet) return;
    pages.add(event.page);
    const multi = pages.size > 1;
    if (tty) out.write("\r\x1b[K");
    if (event.type === "ports" && Object.keys(event.ports).length > 0) {
      out.write(`${event.page}: ports ${Object.entries(event.ports).map(([k, v]) => `${k}=${v}`).join(" ")}\n`);
    } else if (event.type === "start") {
      running.add(label(event.page, event.cell, multi));
      if (!tty) out.write(`… ${event.cell} started\n`);
    } else if (event.type === "ready") {
      if (!tty) out.write(`… ${event.cell} is listening\n`);
    } else if (event.type === "end") {
      running.delete(label(event.page, event.result.name, multi));
      out.write(textCell(event.page, event.result));
    }
    if (tty && running.size > 0) out.write(`running: ${[...running].join(", ")}`);
  };
}
