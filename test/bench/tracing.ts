// Tracing: one cell that sends 10,000 UDP datagrams to a receiver of its own on 127.0.0.1, run
// in process as `lectern run` runs it (executePlan, then its results stored in the cache), with
// the network trace on and off (ExecuteOptions.trace). Storing counts: as JSON, the events of
// 10,000 datagrams took 40 ms to store, three times what recording them cost. Decoding the
// events, which `run` leaves to `--trace`, `--json` and `build`, is measured on its own.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { executePlan, type ExecuteOptions } from "../../runner/execute/execute.ts";
import { extractPage } from "../../runner/extract/extract.ts";
import { createLimiter } from "../../runner/execute/limit.ts";
import { planPage } from "../../runner/plan/plan.ts";
import { decodeRecords } from "../../runner/trace/tracefile.ts";
import { pageTrace } from "../../runner/trace/trace.ts";
import { storeResults } from "../../runner/cache/rebuild.ts";
import type { PageResult } from "../../runner/types.ts";
import { CORES, RUNS, SMALL_ENV, fmtMs, fmtRatio, interleave, log, median, scratch, standalone, type Row } from "./lib.ts";

export const DATAGRAMS = 10_000;

// At most WINDOW datagrams in flight, so none is dropped by a full receive buffer; a datagram
// lost anyway is given up on after a quiet spell, and the whole run has a deadline.
const CELL = `import dgram from "node:dgram";
import { once } from "node:events";
const N = ${DATAGRAMS}, WINDOW = 64;
const receiver = dgram.createSocket("udp4");
receiver.bind(0, "127.0.0.1");
await once(receiver, "listening");
const to = receiver.address().port;
const sender = dgram.createSocket("udp4");
let sent = 0, received = 0;
const deadline = setTimeout(finish, 8000);
let quiet: NodeJS.Timeout | undefined;
function pump(): void {
  while (sent < N && sent - received < WINDOW) sender.send("datagram " + sent++, to, "127.0.0.1");
  clearTimeout(quiet);
  quiet = setTimeout(finish, 300);
}
receiver.on("message", () => {
  if (++received === N) finish();
  else if (sent - received < WINDOW / 2) pump();
});
function finish(): void {
  clearTimeout(deadline);
  clearTimeout(quiet);
  console.log("sent " + sent + ", received " + received);
  receiver.close();
  sender.close();
}
pump();
`;

export default async function tracing(): Promise<Row[]> {
  log(`\n## tracing (${DATAGRAMS} datagrams in one cell)`);
  const dir = scratch("tracing");
  const path = join(dir, "flood.md");
  const text = "# Flood\n\n```ts name=flood\n" + CELL + "```\n";
  writeFileSync(path, text);
  const plan = await planPage(extractPage(path, text));
  const base: ExecuteOptions = { cacheDir: join(dir, "cache"), timeout: 20, jobs: createLimiter(CORES), env: SMALL_ENV, maxOutput: 1 << 20, graceMs: 1000 };
  const cellMs: Record<string, number[]> = { on: [], off: [] };
  let last: PageResult | null = null;
  const run = (trace: boolean) => async () => {
    const options = { ...base, trace };
    const r: PageResult = await executePlan(plan, options);
    await storeResults(plan, r, options);
    const cell = r.cells[0]!;
    if (cell.status !== "passed" || !cell.output.includes(`received ${DATAGRAMS}`)) throw new Error(`flood cell: ${cell.status} ${cell.reason}\n${cell.output}`);
    if (trace) last = r;
    else if (r.cells[0]!.traceRecords || pageTrace(r).length > 0) throw new Error("trace=false still recorded events");
    cellMs[trace ? "on" : "off"]!.push(cell.durationMs);
  };
  // Three times the usual runs: the difference sought is a few milliseconds in 150.
  const runs = RUNS * 3;
  const t = await interleave(runs, { "10,000 datagrams, trace off": run(false), "10,000 datagrams, trace on": run(true) });
  const off = t["10,000 datagrams, trace off"]!.median;
  const on = t["10,000 datagrams, trace on"]!.median;
  const cellOff = median(cellMs.off!.slice(-runs));
  const cellOn = median(cellMs.on!.slice(-runs));
  // The events of the last run, decoded as `run --trace` or a build would.
  const records = last!.cells[0]!.traceRecords!;
  const decodeMs: number[] = [];
  let events = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    events = decodeRecords("flood", records).length;
    decodeMs.push(performance.now() - t0);
  }
  if (events < 2 * DATAGRAMS) throw new Error(`only ${events} trace events for ${DATAGRAMS} datagrams sent and received`);
  log(`trace events recorded: ${events}; the cell's own duration: ${fmtMs(cellOff)} off, ${fmtMs(cellOn)} on`);
  return [
    { part: "tracing", measure: `${DATAGRAMS} datagrams, trace off (run and store)`, value: fmtMs(off), ratio: "1.00x" },
    { part: "tracing", measure: `${DATAGRAMS} datagrams, trace on (${events} events)`, value: fmtMs(on), ratio: `${fmtRatio(on / off)} off`, target: "<= 1.10x off", met: on / off <= 1.1 },
    { part: "tracing", measure: "the cell's own duration, on vs off", value: `${fmtMs(cellOn)} vs ${fmtMs(cellOff)}`, ratio: `${fmtRatio(cellOn / cellOff)} off` },
    { part: "tracing", measure: `decoding the ${events} events (run --trace, --json, build)`, value: fmtMs(median(decodeMs)), ratio: `${fmtRatio((on + median(decodeMs)) / off)} off with it` },
  ];
}

await standalone(import.meta.url, tracing);
