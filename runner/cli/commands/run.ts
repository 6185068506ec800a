// lectern run PAGE: run a page's cells (or some of them and what they need) and report.
import { executePlan } from "../../execute/execute.ts";
import type { Io } from "../../io.ts";
import { cacheDirOf, executeOptions, parse, pinnedPorts, RUN_FLAGS, usage } from "../options.ts";
import { onePage } from "../../plan/pages.ts";
import { progress } from "../progress.ts";
import { storeResults } from "../../cache/rebuild.ts";
import { pageTrace, textTimeline } from "../../trace/trace.ts";
import { formatDuration } from "../../duration.ts";
import { allOk, jsonReport, summaryLine } from "../report.ts";

export async function runCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...RUN_FLAGS,
    cell: { type: "string", multiple: true },
    json: { type: "boolean" },
    port: { type: "string", multiple: true },
    trace: { type: "boolean" },
  });
  const plan = await onePage(positionals, "run", cacheDirOf(values));
  const only = values.cell as string[] | undefined;
  const pinned = pinnedPorts(values.port);
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
  const options = executeOptions(values, io);
  const result = await executePlan(plan, {
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
  if (json) io.stdout.write(jsonReport([result], "run") + "\n");
  else if (values.trace) io.stdout.write(`\nnetwork trace of ${plan.page.path}:\n${textTimeline(pageTrace(result)) || "  (no socket events)\n"}\n`);
  if (!json) io.stdout.write(`${summaryLine([result])} (${formatDuration(result.durationMs)})\n`);
  // After the report: a cache that cannot be written must not cost the user what just ran.
  try {
    await storeResults(plan, result, options);
  } catch (err) {
    io.stderr.write(`lectern: results not cached: ${(err as Error).message.split("\n")[0]}\n`);
  }
  return allOk([result]) ? 0 : 1;
}
