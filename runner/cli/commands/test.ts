// lectern test [PATH]...: run the pages and hold every cell to what its page says: its status
// (expect=, exit=) and its `output` block. --update writes the blocks instead; --junit for CI.
import { writeAtomic } from "../../atomic.ts";
import { allPass, checkBlockPorts, judge, judgedPages, updateBlocks } from "../../doctest/judge.ts";
import { junitReport } from "../../doctest/junit.ts";
import { createLimiter, mapLimit } from "../../execute/limit.ts";
import { executePlan } from "../../execute/execute.ts";
import type { Io } from "../../io.ts";
import { cacheDirOf, COMMANDS, executeOptions, parse } from "../options.ts";
import { pageOptions, preparePages } from "../settings.ts";
import { planAll } from "../../plan/pages.ts";
import { cellInputs } from "../../cache/rebuild.ts";
import { runningLine } from "../progress.ts";
import { jsonTestReport, summaryLine, textVerdict } from "../report.ts";

export async function testCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMANDS.test.flags);
  const plans = await planAll(positionals.length > 0 ? positionals : ["notebook"], cacheDirOf(values));
  if (!values.update) plans.forEach(checkBlockPorts);
  await preparePages(plans, io);
  const json = Boolean(values.json);
  const live = runningLine(io, json);
  const options = { ...executeOptions(values, io), onEvent: live.event };
  // Compiled into the cache first: a cache that cannot be written is one line (exit 1) before anything runs.
  for (const plan of plans) await cellInputs(plan, options.cacheDir);
  // Pages run side by side, as many at once as cells may (servers take no cell slot).
  const pages = await mapLimit(plans, createLimiter(options.jobs.size), (plan) => executePlan(plan, pageOptions(plan, options)));
  live.end();
  const judged = plans.map((plan, i) => judge(plan, pages[i]!));
  const written = values.update ? await updateBlocks(plans, pages, judged, io) : true;

  if (typeof values.junit === "string") await writeAtomic(values.junit, junitReport(pages, judged));
  const verdicts = judgedPages(pages, judged);
  if (json) {
    io.stdout.write(jsonTestReport(pages, judged) + "\n");
  } else {
    const report = plans.map((_, i) => judged[i]!.map((j) => textVerdict(pages[i]!.path, j)).join("")).join("");
    io.stdout.write(report + summaryLine(verdicts) + "\n");
  }
  return allPass(judged) && written ? 0 : 1;
}
