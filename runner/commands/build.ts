// lectern build [PATH]...: run the pages and publish them as a static site.
import { join } from "node:path";
import { executePlan } from "../execute.ts";
import type { Io } from "../io.ts";
import { executeOptions, parse, RUN_FLAGS } from "../options.ts";
import { planAll } from "../pages.ts";
import { progress } from "../progress.ts";
import { allOk, jsonReport, summaryLine } from "../report.ts";
import { writeSite } from "../site.ts";

export async function buildCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...RUN_FLAGS,
    out: { type: "string" },
    rerun: { type: "boolean" },
    json: { type: "boolean" },
  });
  const plans = await planAll(positionals.length > 0 ? positionals : ["notebook"]);
  const json = Boolean(values.json);
  const options = { ...executeOptions(values, io), onEvent: progress(io, json) };
  // Pages run side by side; the shared limiter bounds how many cells run at once.
  const results = await Promise.all(plans.map((plan) => executePlan(plan, options)));
  const outDir = (values.out as string | undefined) ?? "site";
  const written = await writeSite(outDir, plans.map((plan, i) => ({ page: plan.page, result: results[i]! })));
  if (json) io.stdout.write(jsonReport(results, "build") + "\n");
  else io.stdout.write(`${summaryLine(results)}\nwrote ${written.length} files to ${outDir}/ (open ${join(outDir, "index.html")})\n`);
  return allOk(results) ? 0 : 1;
}
