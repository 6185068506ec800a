// The lecture end to end: `lectern run` on the socket-programming page, cold (fresh cache) and
// warm, against what a teacher would otherwise do (a shell script that runs each program with
// tsx, servers in the background followed by `sleep 1`) and against zx's Markdown mode.
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { extractPage } from "../../runner/extract/extract.ts";
import { planPage, portEnv } from "../../runner/plan/plan.ts";
import { BIN, LECTURE, NODE, ROOT, SLOW_RUNS, SMALL_ENV, TSX, exec, fmtMs, fmtRatio, freePort, interleave, log, median, ok, repoScratch, scratch, standalone, type Row } from "./lib.ts";

const ZX = join(ROOT, "node_modules", ".bin", "zx");
// What each run must have printed, so a broken run is never timed as a fast one.
const EXPECTED = ["HELLO FROM THE UDP CLIENT", "From server: HELLO TCP", "connection failed: ECONNREFUSED", "second got: HELLO FROM THE SECOND CONNECTION", "B got B IS HERE", "in several reads"];

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The naive script: every cell in page order, as a teacher would write it by hand. */
async function naiveScript(dir: string): Promise<string> {
  const text = readFileSync(join(ROOT, LECTURE), "utf8");
  const plan = await planPage(extractPage(join(ROOT, LECTURE), text));
  const lines = ["#!/usr/bin/env bash", "# The lecture's programs run by hand: tsx, servers in the background, a second for them to start.", `cd ${quote(dir)}`];
  for (const name of plan.ports) lines.push(`export ${portEnv(name)}=${await freePort()}`);
  for (const cell of plan.cells) {
    const file = `${cell.name}.${cell.lang === "ts" ? "ts" : "sh"}`;
    writeFileSync(join(dir, file), cell.code);
    const run = cell.lang === "ts" ? `${quote(TSX)} ${file}` : `bash ${file}`;
    let input = "</dev/null";
    if (cell.attrs.stdin !== null && cell.attrs.stdin !== undefined) {
      writeFileSync(join(dir, `${cell.name}.stdin`), cell.attrs.stdin + "\n");
      input = `<${cell.name}.stdin`;
    }
    lines.push(`echo "--- ${cell.name}"`);
    if (cell.attrs.server) lines.push(`${run} ${input} &`, "sleep 1");
    else lines.push(`${run} ${input}`);
  }
  lines.push("kill $(jobs -p) 2>/dev/null", "wait", "exit 0", "");
  const script = join(dir, "lecture.sh");
  writeFileSync(script, lines.join("\n"));
  chmodSync(script, 0o755);
  return script;
}

function checkOutput(out: string, what: string): void {
  const lacking = missingOutput(out);
  if (lacking) throw new Error(`${what}: its output ${lacking}:\n${out.slice(-3000)}`);
}

function missingOutput(out: string): string | null {
  const want = EXPECTED.find((w) => !out.includes(w));
  return want === undefined ? null : `lacks "${want}"`;
}

/**
 * The naive script's runs, timed only when they worked. It can fail for real (`sleep 1` is too
 * short for tsx to start a server on a busy machine): that is a finding to report, not a reason
 * to stop timing Lectern.
 */
function naiveRuns(script: string) {
  const runs = { times: [] as number[], failures: [] as string[], calls: 0 };
  const run = async () => {
    // The first call is interleave's warm-up, as for the other alternatives.
    const timed = runs.calls++ > 0;
    const r = await exec("bash", [script], { env: SMALL_ENV, timeoutMs: 120_000 });
    const why = r.timedOut ? "timed out" : r.code !== 0 ? `exit ${r.code}` : missingOutput(r.stdout + r.stderr);
    if (why) log(`naive script failed: its output ${why}`);
    if (timed && why) runs.failures.push(why);
    else if (timed) runs.times.push(r.ms);
  };
  return { runs, run };
}

export default async function lecture(): Promise<Row[]> {
  log("\n## the lecture end to end");
  const tmp = scratch("lecture");
  const warmCache = join(tmp, "warm");
  const script = await naiveScript(repoScratch("lecture"));
  const naive = naiveRuns(script);
  let cold = 0;
  const lectern = (cache: string) => async () => {
    const r = ok(await exec(NODE, [BIN, "run", LECTURE, "--cache", cache], { env: SMALL_ENV, timeoutMs: 120_000 }), "lectern run");
    checkOutput(r.stdout + r.stderr, "lectern run");
  };
  // The warm-up run of each alternative fills the warm cache (and tsx's own cache).
  const t = await interleave(SLOW_RUNS, {
    "lectern run lec3 (cold: fresh --cache)": async () => {
      const cache = join(tmp, `cold-${cold++}`);
      await lectern(cache)();
      rmSync(cache, { recursive: true, force: true });
    },
    "lectern run lec3 (warm)": lectern(warmCache),
    "naive bash script: tsx per cell, sleep 1 per server": naive.run,
  });
  const coldMs = t["lectern run lec3 (cold: fresh --cache)"]!.median;
  const warmMs = t["lectern run lec3 (warm)"]!.median;
  const naiveMs = naive.runs.times.length > 0 ? median(naive.runs.times) : null;
  const failed = naive.runs.failures;
  const naiveFinding = failed.length > 0 ? `failed in ${failed.length} of ${failed.length + naive.runs.times.length} runs (its output ${failed[0]}: sleep 1 was too short for a server to start)` : "";

  // zx's Markdown mode, bounded: it runs only fences whose info string is exactly js/ts/bash,
  // and all of them as one module.
  const zxDir = repoScratch("zx");
  const asIs = join(zxDir, "lec3.md");
  writeFileSync(asIs, readFileSync(join(ROOT, LECTURE), "utf8"));
  const bare = join(zxDir, "lec3-bare-fences.md");
  writeFileSync(bare, readFileSync(join(ROOT, LECTURE), "utf8").replace(/^```(ts|bash) .*$/gm, "```$1"));
  const zx1 = await exec(ZX, [asIs], { env: SMALL_ENV, timeoutMs: 30_000 });
  const ran1 = EXPECTED.filter((w) => (zx1.stdout + zx1.stderr).includes(w)).length;
  log(`zx lec3.md: exit ${zx1.code} after ${fmtMs(zx1.ms)}, ${ran1} of ${EXPECTED.length} expected outputs printed`);
  const zx2 = await exec(ZX, [bare], { env: SMALL_ENV, timeoutMs: 30_000 });
  const why2 = zx2.timedOut ? "timed out after 30 s" : ((zx2.stderr + zx2.stdout).match(/^\w*Error:.*$/m)?.[0] ?? `exit ${zx2.code}`);
  log(`zx lec3 with bare fences: ${why2}`);
  const zxWorks = zx1.code === 0 && ran1 === EXPECTED.length;
  const zxValue = zxWorks
    ? fmtMs(zx1.ms)
    : `cannot run: ${ran1} of ${EXPECTED.length} outputs (exit ${zx1.code}, ${fmtMs(zx1.ms)}): fences with attributes are skipped; bare fences: ${why2}`;

  // Against a baseline that never worked there is no ratio, and the target is neither met nor missed.
  const against = (ms: number): Pick<Row, "ratio" | "met"> =>
    naiveMs === null ? { ratio: "no ratio: the naive script never worked" } : { ratio: `${fmtRatio(naiveMs / ms)} faster than naive`, met: naiveMs / ms >= 3 };
  return [
    { part: "lecture", measure: "lectern run lec3, cold (fresh cache)", value: fmtMs(coldMs), ...against(coldMs), target: ">= 3x faster than naive" },
    { part: "lecture", measure: "lectern run lec3, warm", value: fmtMs(warmMs), ...against(warmMs), target: ">= 3x faster than naive" },
    { part: "lecture", measure: "naive script (tsx per cell, sleep 1 per server)", value: naiveMs === null ? "failed" : fmtMs(naiveMs), ratio: naiveMs === null ? naiveFinding : `1.00x${failed.length ? `; ${naiveFinding}` : ""}` },
    { part: "lecture", measure: "zx --md on the same page", value: zxValue },
  ];
}

await standalone(import.meta.url, lecture);
