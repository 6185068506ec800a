// lectern check [PATH]...: type-check every TypeScript cell without running anything.
import { checkPages, checkSummary, formatDiagnostic } from "../../doctest/typecheck.ts";
import { LecternError } from "../../errors.ts";
import { readPage } from "../../extract/extract.ts";
import type { Io } from "../../io.ts";
import { parse } from "../options.ts";
import { collectPages } from "../../plan/pages.ts";
import { planPage } from "../../plan/plan.ts";

export async function checkCommand(args: string[], io: Io): Promise<number> {
  const { positionals } = parse(args, {});
  const pages = [];
  // Every page read and planned before anything is checked, so an invalid page (a cycle, an
  // unknown need, a port name Lectern cannot see) stops the command with exit 2, as `run` would.
  // Code that does not compile is the exception: the type checker reports it, line and column.
  for (const path of await collectPages(positionals.length > 0 ? positionals : ["notebook"])) {
    const page = await readPage(path);
    try {
      await planPage(page);
    } catch (err) {
      if (!(err instanceof LecternError && err.code === "E_COMPILE")) throw err;
    }
    pages.push(page);
  }
  const result = await checkPages(pages);
  for (const d of result.diagnostics) io.stdout.write(formatDiagnostic(d) + "\n");
  io.stdout.write(checkSummary(result, pages.length) + "\n");
  return result.diagnostics.length > 0 ? 1 : 0;
}
