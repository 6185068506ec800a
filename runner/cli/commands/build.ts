// lectern build [PATH]...: run the pages, reusing cached results, and publish them as a static site.
import { join } from "node:path";
import { highlightMemo, pageMemo } from "../../cache/memo.ts";
import { LecternError } from "../../errors.ts";
import type { Io } from "../../io.ts";
import { mapLimit, createLimiter } from "../../execute/limit.ts";
import { executePlan } from "../../execute/execute.ts";
import { cacheDirOf, COMMANDS, executeOptions, parse, pinnedPorts, usage } from "../options.ts";
import { collectPages, planAll } from "../../plan/pages.ts";
import { buildProgress } from "../progress.ts";
import { runCached, type CacheMode, type Rebuilt } from "../../cache/rebuild.ts";
import { allOk, jsonReport, summaryLine } from "../report.ts";
import { writeSite } from "../../render/site.ts";
import { outputDiff } from "../../render/differs.ts";
import { pairResults } from "../../outcome.ts";
import { markNotStarted, withoutServers } from "../outside.ts";
import { pageOptions, preparePages } from "../settings.ts";
import { parseShard, shardOf } from "../shard.ts";
import type { PageResult, Plan } from "../../types.ts";

export async function buildCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMANDS.build.flags);
  if (values.rerun && values.frozen) throw usage("--rerun runs everything and --frozen runs nothing: pick one");
  const noServers = Boolean(values["no-servers"]);
  if (noServers && values.frozen) throw usage("--no-servers runs clients against your servers and --frozen runs nothing: pick one");
  const pinned = pinnedPorts(values.port);
  // Pages run side by side: two of them on one fixed port would collide, unless none serves it.
  if (Object.keys(pinned).length > 0 && !noServers) throw usage("build takes --port only with --no-servers (lectern run --port pins a port of one page)");
  const mode: CacheMode = values.rerun ? "rerun" : values.frozen ? "frozen" : "use";
  const shard = parseShard(values.shard);
  const paths = shardOf(await collectPages(positionals.length > 0 ? positionals : ["notebook"]), shard);
  if (paths.length === 0) {
    io.stdout.write(`shard ${shard!.k}/${shard!.n} has no pages (there are fewer pages than shards)\n`);
    return 0;
  }
  const planned = await planAll(paths, cacheDirOf(values));
  await preparePages(planned, io);
  const plans = noServers ? planned.map((p) => withoutServers(p, pinned)) : planned;
  const json = Boolean(values.json);
  const show = buildProgress(io, json, plans);
  const options = { ...executeOptions(values, io), onEvent: show.event, pinned };
  // Pages run side by side; the shared limiter in `options.jobs` bounds the cells, this one the pages.
  const built = await mapLimit(plans, createLimiter(options.jobs.size), async (plan) => {
    const r = await runPage(plan, pageOptions(plan, options), mode, noServers);
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
    written = await writeSite(outDir, plans.map((plan, i) => ({ page: plan.page, result: results[i]! })), undefined, { highlight, pages, slides: Boolean(values.slides) });
    await highlight.save();
    await pages.save();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // --out naming a file is a mistake in the command (exit 2); a disk that refuses is not (cli.ts: exit 1).
    if (code === "ENOTDIR" || code === "EEXIST") throw new LecternError("E_USAGE", `cannot write the site: ${(err as Error).message}`, { file: outDir }, { cause: err });
    throw err;
  }
  const differs = mismatches(plans, results);
  if (json) io.stdout.write(jsonReport(results, "build") + "\n");
  else {
    if (differs.length > 0) io.stdout.write(`output differs from its block: ${differs.join(", ")}\n`);
    io.stdout.write(`${summaryLine(results)}\nwrote ${written.length} file${written.length === 1 ? "" : "s"} to ${outDir}/ (open ${join(outDir, "index.html")})\n`);
  }
  if (values.check && differs.length > 0) {
    io.stderr.write(`lectern: --check: ${differs.length} cell${differs.length === 1 ? "" : "s"} printed what ${differs.length === 1 ? "its" : "their"} output block does not say (run \`lectern test\` for the diffs)\n`);
    return 1;
  }
  return allOk(results) ? 0 : 1;
}

/** One page from the cache, or, under --no-servers, run afresh and never cached (its servers were not ours). */
async function runPage(plan: Plan, options: Parameters<typeof runCached>[1], mode: CacheMode, noServers: boolean): Promise<Rebuilt> {
  if (!noServers) return runCached(plan, options, mode);
  return { result: markNotStarted(await executePlan(plan, options), plan), missing: [] };
}

/** `page.md:LINE name` of every cell whose transcript does not match its output block. */
function mismatches(plans: Plan[], results: PageResult[]): string[] {
  return plans.flatMap((plan, i) =>
    pairResults(plan.cells, results[i]!)
      .filter(({ cell, result }) => outputDiff(cell, result) !== null)
      .map(({ cell }) => `${plan.page.path}:${cell.line} ${cell.name}`),
  );
}
