// lectern check [PATH]...: type-check every TypeScript cell and lint the pages, without running anything.
import { checkPages, checkSummary, formatDiagnostic } from "../../doctest/typecheck.ts";
import { LecternError } from "../../errors.ts";
import { readPage } from "../../extract/extract.ts";
import type { Io } from "../../io.ts";
import { COMMANDS, parse } from "../options.ts";
import { collectPages } from "../../plan/pages.ts";
import { planPage } from "../../plan/plan.ts";
import { formatWarning, lintPlan, type Warning } from "../../plan/lint.ts";
import { pageSettings } from "../settings.ts";
import type { Page } from "../../types.ts";

export async function checkCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMANDS.check.flags);
  const pages: Page[] = [];
  const invalid: LecternError[] = [];
  const warnings: Warning[] = [];
  // Every page read and planned before anything is checked, so an invalid page (a cycle, an
  // unknown need, a port name Lectern cannot see) makes the command exit 2, as `run` would;
  // every invalid page is named, not only the first. Code that does not compile is the
  // exception: the type checker reports it, line and column.
  for (const path of await collectPages(positionals.length > 0 ? positionals : ["notebook"])) {
    let page: Page;
    try {
      // A page that cannot even be read (a duplicate name, an unclosed fence) is named with the rest.
      page = await readPage(path);
    } catch (err) {
      if (!(err instanceof LecternError)) throw err;
      invalid.push(err);
      continue;
    }
    try {
      pageSettings(page);
      warnings.push(...(await lintPlan(await planPage(page))));
    } catch (err) {
      if (!(err instanceof LecternError)) throw err;
      if (err.code !== "E_COMPILE") invalid.push(err);
    }
    pages.push(page);
  }
  if (invalid.length > 0) throw invalid.length === 1 ? invalid[0] : new AggregateError(invalid, `${invalid.length} invalid pages`);
  const result = await checkPages(pages);
  for (const d of result.diagnostics) io.stdout.write(formatDiagnostic(d) + "\n");
  for (const w of warnings) io.stdout.write(formatWarning(w) + "\n");
  io.stdout.write(checkSummary(result, pages.length) + "\n");
  if (warnings.length > 0) {
    const n = `${warnings.length} warning${warnings.length === 1 ? "" : "s"}`;
    io.stdout.write(values.strict ? `${n}, and --strict makes them errors\n` : `${n} (--strict makes them errors)\n`);
  }
  if (values.strict && warnings.length > 0) return 2;
  return result.diagnostics.length > 0 ? 1 : 0;
}
