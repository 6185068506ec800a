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
import { captureOf, wireTrace } from "../../runner/trace/wiretrace.ts";
import { mergeTraces, pageTrace } from "../../runner/trace/trace.ts";
import { storeResults } from "../../runner/cache/rebuild.ts";
import type { PageResult } from "../../runner/types.ts";
import { BIN, CORES, LECTURE, NODE, RUNS, SLOW_RUNS, SMALL_ENV, exec, fmtMs, fmtRatio, interleave, log, median, scratch, standalone, type Row } from "./lib.ts";

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
const deadline = setTimeout(finish, 15000);
let quiet: NodeJS.Timeout | undefined;
function pump(): void {
  while (sent < N && sent - received < WINDOW) sender.send("datagram " + sent++, to, "127.0.0.1");
  clearTimeout(quiet);
  quiet = setTimeout(finish, 2000);
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
  // The socket trace on and off, the packet capture off: what the preload and the runner cost.
  process.env.LECTERN_CAPTURE = "off";
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
  // One run with the capture on (one packet a datagram), turned into the page's events as a build does.
  delete process.env.LECTERN_CAPTURE;
  const capturedRun = await executePlan(plan, base);
  const captured = captureOf(capturedRun);
  if (!captured?.path) throw new Error(`the flood run has no capture: ${captured?.skipped}`);
  const socketEvents = mergeTraces(capturedRun.cells);
  const wireMs: number[] = [];
  let wired = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    wired = wireTrace(socketEvents, captured).events.filter((e) => e.wire).length;
    wireMs.push(performance.now() - t0);
  }
  // A datagram the receiver could not take is on the wire all the same; one tcpdump missed is counted in captureSkipped.
  if (wired < DATAGRAMS) log(`only ${wired} wire events for ${DATAGRAMS} datagrams: ${captured.skipped}`);
  const lecture = await lectureCapture(dir);
  log(`trace events recorded: ${events}; the cell's own duration: ${fmtMs(cellOff)} off, ${fmtMs(cellOn)} on`);
  return [
    { part: "tracing", measure: `${DATAGRAMS} datagrams, trace off (run and store)`, value: fmtMs(off), ratio: "1.00x" },
    { part: "tracing", measure: `${DATAGRAMS} datagrams, trace on (${events} events)`, value: fmtMs(on), ratio: `${fmtRatio(on / off)} off`, target: "<= 1.10x off", met: on / off <= 1.1 },
    { part: "tracing", measure: "the cell's own duration, on vs off", value: `${fmtMs(cellOn)} vs ${fmtMs(cellOff)}`, ratio: `${fmtRatio(cellOn / cellOff)} off` },
    { part: "tracing", measure: `decoding the ${events} events (run --trace, --json, build)`, value: fmtMs(median(decodeMs)), ratio: `${fmtRatio((on + median(decodeMs)) / off)} off with it` },
    { part: "tracing", measure: `the capture of ${DATAGRAMS} datagrams into ${wired} wire events (pcap read, sockets named)`, value: fmtMs(median(wireMs)), target: "<= 50 ms", met: median(wireMs) <= 50 },
    ...lecture,
  ];
}

/** `lectern run` of the lecture with the packet capture on and off (LECTERN_CAPTURE=off), interleaved. */
async function lectureCapture(dir: string): Promise<Row[]> {
  const cache = join(dir, "lecture-cache");
  const run = (capture: boolean) => async () => {
    const r = await exec(NODE, [BIN, "run", LECTURE, "--cache", cache], { env: { ...SMALL_ENV, ...(capture ? {} : { LECTERN_CAPTURE: "off" }) }, timeoutMs: 120_000 });
    // A cell of the lecture that races a timer may fail on a machine this busy; the run is timed all the same, and counted.
    if (!/\d+ passed, \d+ failed/.test(r.stdout)) throw new Error(`lectern run: ${r.stdout.slice(-2000)}`);
    if (r.code !== 0) failures[capture ? "on" : "off"]++;
  };
  const failures = { on: 0, off: 0 };
  const t = await interleave(SLOW_RUNS, { "lec3, capture off": run(false), "lec3, capture on": run(true) });
  const off = t["lec3, capture off"]!.median;
  const on = t["lec3, capture on"]!.median;
  if (failures.on + failures.off > 0) log(`runs with a failed cell: ${failures.off} with the capture off, ${failures.on} on`);
  return [
    { part: "tracing", measure: "lectern run lec3, packet capture off (LECTERN_CAPTURE=off)", value: fmtMs(off), ratio: "1.00x" },
    { part: "tracing", measure: "lectern run lec3, packet capture on (tcpdump, socket tables)", value: fmtMs(on), ratio: `${fmtRatio(on / off)} off`, target: "<= 1.10x off", met: on / off <= 1.1 },
  ];
}

await standalone(import.meta.url, tracing);
