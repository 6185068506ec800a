// lectern run PAGE: run a page's cells (or some of them and what they need) and report.
import { executePlan } from "../../execute/execute.ts";
import type { Io } from "../../io.ts";
import { cacheDirOf, COMMANDS, executeOptions, parse, pinnedPorts, usage } from "../options.ts";
import { markNotStarted, withoutServers } from "../outside.ts";
import { pageOptions, preparePages } from "../settings.ts";
import { onePage } from "../../plan/pages.ts";
import { progress } from "../progress.ts";
import { cellInputs, storeResults } from "../../cache/rebuild.ts";
import { describeWriteFailure } from "../../writefailure.ts";
import { pageTrace, textTimeline } from "../../trace/trace.ts";
import { formatDuration } from "../../duration.ts";
import { allOk, jsonReport, summaryLine } from "../report.ts";

export async function runCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMANDS.run.flags);
  const pinned = pinnedPorts(values.port);
  const only = values.cell as string[] | undefined;
  const noServers = Boolean(values["no-servers"]);
  const planned = await onePage(positionals, "run", cacheDirOf(values));
  await preparePages([planned], io);
  const plan = noServers ? withoutServers(planned, pinned, only) : planned;
  for (const name of Object.keys(pinned)) {
    if (!plan.ports.includes(name)) {
      throw usage(`--port ${name}=${pinned[name]}: this page has no port "${name}" (its ports: ${plan.ports.join(", ") || "none"})`);
    }
  }
  const json = Boolean(values.json);
  let ports: Record<string, number> = {};
  // A server asked for alone keeps serving until Ctrl-C, as a teacher would expect, and what
  // it prints is shown as it happens.
  const keepServing = only !== undefined && only.every((name) => plan.cells.find((c) => c.name === name)?.attrs.server);
  const show = progress(io, json, keepServing);
  const options = pageOptions(plan, executeOptions(values, io));
  // Compiled into the cache before anything runs: a cache that cannot be written is one line
  // (cli.ts, exit 1), not an "internal error" on every cell.
  await cellInputs(plan, options.cacheDir);
  const ran = await executePlan(plan, {
    ...options,
    only,
    pinned,
    keepServing,
    onEvent: (event) => {
      show(event);
      if (event.type === "ports") ports = event.ports;
      if (keepServing && event.type === "ready") {
        const mine = plan.cells.find((c) => c.name === event.cell)!.ports.map((n) => `${n}=${ports[n]}`);
        io.stderr.write(`${event.cell} is serving${mine.length ? ` on ${mine.join(" ")}` : ""}; press Ctrl-C to stop it\n`);
      }
    },
  });
  const result = noServers ? markNotStarted(ran, plan) : ran;
  if (json) io.stdout.write(jsonReport([result], "run") + "\n");
  else if (values.trace) io.stdout.write(`\nnetwork trace of ${plan.page.path}:\n${textTimeline(pageTrace(result)) || "  (no socket events)\n"}\n`);
  if (!json) io.stdout.write(`${summaryLine([result])} (${formatDuration(result.durationMs)})\n`);
  // After the report: a cache that cannot be written must not cost the user what just ran.
  // A run against someone else's servers says nothing about the page's own: not cached.
  const stored = noServers || (await store(() => storeResults(plan, result, options), io));
  return allOk([result]) && stored ? 0 : 1;
}

/** False, once said on stderr, when the results could not be written (a full disk): exit status 1. */
async function store(write: () => Promise<void>, io: Io): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    const unwritten = describeWriteFailure(err);
    if (!unwritten) throw err;
    io.stderr.write(`lectern: results not cached: ${unwritten}\n`);
    return false;
  }
}
