// lectern build [PATH]...: run the pages, reusing cached results, and publish them as a static site.
import { join } from "node:path";
import { highlightMemo, pageMemo } from "../../cache/results.ts";
import { LecternError } from "../../errors.ts";
import type { Io } from "../../io.ts";
import { mapLimit, createLimiter } from "../../execute/limit.ts";
import { cacheDirOf, executeOptions, parse, RUN_FLAGS, usage } from "../options.ts";
import { planAll } from "../../plan/pages.ts";
import { buildProgress } from "../progress.ts";
import { runCached, type CacheMode } from "../../cache/rebuild.ts";
import { allOk, jsonReport, summaryLine } from "../report.ts";
import { writeSite } from "../../render/site.ts";
import type { PageResult } from "../../types.ts";

export async function buildCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...RUN_FLAGS,
    out: { type: "string" },
    rerun: { type: "boolean" },
    frozen: { type: "boolean" },
    json: { type: "boolean" },
  });
  if (values.rerun && values.frozen) throw usage("--rerun runs everything and --frozen runs nothing: pick one");
  const mode: CacheMode = values.rerun ? "rerun" : values.frozen ? "frozen" : "use";
  const plans = await planAll(positionals.length > 0 ? positionals : ["notebook"], cacheDirOf(values));
  const json = Boolean(values.json);
  const show = buildProgress(io, json, plans);
  const options = { ...executeOptions(values, io), onEvent: show.event };
  // Pages run side by side; the shared limiter in `options.jobs` bounds the cells, this one the pages.
  const built = await mapLimit(plans, createLimiter(options.jobs.size), async (plan) => {
    const r = await runCached(plan, options, mode);
    if (r.result) show.pageDone(r.result);
    return r;
  });
  show.end();
  const outDir = (values.out as string | undefined) ?? "site";
  if (io.signal?.aborted) {
    // Pages whose cells were cut short would publish "not run" over the good site: none is written.
    io.stderr.write(`lectern: interrupted: nothing was written to ${outDir}/ (what finished is in the cache for the next build)\n`);
    return 130;
  }
  const missing = built.flatMap((b, i) => b.missing.map((c) => `${plans[i]!.page.path}:${c.line} ${c.name}`));
  if (mode === "frozen" && missing.length > 0) {
    io.stderr.write(`lectern: --frozen, and these cells must run (the cache has no result, or a server and its clients come from different runs):\n${missing.map((m) => `  ${m}\n`).join("")}run \`lectern build\` without --frozen (or \`lectern run\`) to fill it\n`);
    return 1;
  }
  const results = built.map((b) => b.result!) as PageResult[];
  let written: string[];
  try {
    const highlight = highlightMemo(options.cacheDir);
    const pages = pageMemo(options.cacheDir);
    written = await writeSite(outDir, plans.map((plan, i) => ({ page: plan.page, result: results[i]! })), undefined, { highlight, pages });
    await highlight.save();
    await pages.save();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // --out naming a file is a mistake in the command (exit 2); a disk that refuses is not (cli.ts: exit 1).
    if (code === "ENOTDIR" || code === "EEXIST") throw new LecternError("E_USAGE", `cannot write the site: ${(err as Error).message}`, { file: outDir }, { cause: err });
    throw err;
  }
  if (json) io.stdout.write(jsonReport(results, "build") + "\n");
  else io.stdout.write(`${summaryLine(results)}\nwrote ${written.length} files to ${outDir}/ (open ${join(outDir, "index.html")})\n`);
  return allOk(results) ? 0 : 1;
}
