// npm run bench: every measurement, one after another, then one summary table on stdout.
//   npm run bench                      all of them (5 runs per figure, 3 for the slow ones)
//   npm run bench -- --quick           one run each and a 20-page course: does it all work?
//   BENCH_RUNS=N npm run bench         N runs per figure
//   BENCH_ONLY=course,tracing npm run bench   only these parts
// Progress and every sample go to stderr; the table goes to stdout.
import { availableParallelism, cpus, loadavg } from "node:os";
import check from "./check.ts";
import concurrency from "./concurrency.ts";
import course from "./course.ts";
import grade from "./grade.ts";
import launch from "./launch.ts";
import languages from "./languages.ts";
import lecture from "./lecture.ts";
import live from "./live.ts";
import network from "./network.ts";
import { QUICK, RUNS, SLOW_RUNS, cleanup, fmtMs, log, table, type Bench, type Row } from "./lib.ts";
import relay from "./relay.ts";
import rendering from "./rendering.ts";
import tracing from "./tracing.ts";

const PARTS: Record<string, Bench> = { launch, lecture, concurrency, course, rendering, tracing, check, languages, grade, live, network, relay };

const only = (process.env.BENCH_ONLY ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const unknown = only.filter((name) => !(name in PARTS));
if (unknown.length > 0) {
  process.stderr.write(`BENCH_ONLY: no part named ${unknown.join(", ")} (parts: ${Object.keys(PARTS).join(", ")})\n`);
  process.exit(2);
}

const t0 = performance.now();
log(`Lectern benchmarks: ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"}), load ${loadavg().map((l) => l.toFixed(2)).join(" ")}; ${RUNS} runs per figure, ${SLOW_RUNS} for slow ones${QUICK ? ", quick" : ""}`);
const rows: Row[] = [];
const failed: string[] = [];
for (const [name, bench] of Object.entries(PARTS)) {
  if (only.length > 0 && !only.includes(name)) continue;
  try {
    rows.push(...(await bench()));
  } catch (err) {
    // One broken part does not hide the others' numbers.
    failed.push(name);
    log(`\n${name} FAILED: ${(err as Error).stack ?? err}`);
    rows.push({ part: name, measure: "(failed: see above)", value: "-" });
  } finally {
    cleanup();
  }
}
const missed = rows.filter((r) => r.met === false).length;
const met = rows.filter((r) => r.met === true).length;
process.stdout.write(`\n${table(rows)}\n\ntargets: ${met} met, ${missed} missed; whole bench ${fmtMs(performance.now() - t0)}\n`);
process.exitCode = failed.length > 0 ? 1 : 0;
