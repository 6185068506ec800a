// lectern check [PATH]...: type-check every TypeScript cell without running anything.
import { checkPages, checkSummary, formatDiagnostic } from "../check.ts";
import { readPage } from "../extract.ts";
import type { Io } from "../io.ts";
import { parse } from "../options.ts";
import { collectPages } from "../pages.ts";

export async function checkCommand(args: string[], io: Io): Promise<number> {
  const { positionals } = parse(args, {});
  const pages = [];
  // Every page read before anything is checked, so an invalid page stops the command (exit 2).
  for (const path of await collectPages(positionals.length > 0 ? positionals : ["notebook"])) pages.push(await readPage(path));
  const result = await checkPages(pages);
  for (const d of result.diagnostics) io.stdout.write(formatDiagnostic(d) + "\n");
  io.stdout.write(checkSummary(result, pages.length) + "\n");
  return result.diagnostics.length > 0 ? 1 : 0;
}
