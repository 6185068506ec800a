// Concurrency: a page of 24 independent small cells and a page of 8 TCP server/client pairs,
// `lectern run` as a whole process (its own start-up included), against the same compiled
// programs run with plain `node` at the same parallelism (cores x 2) by orchestrate.mjs.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileCell } from "../../runner/execute/compile.ts";
import { extractPage } from "../../runner/extract/extract.ts";
import { planPage } from "../../runner/plan/plan.ts";
import { BIN, CORES, NODE, ROOT, RUNS, SMALL_ENV, exec, fmtMs, fmtRatio, interleave, log, ok, scratch, smallCellsPage, standalone, tcpPairsPage, type Row } from "./lib.ts";

const ORCHESTRATE = join(ROOT, "test", "bench", "orchestrate.mjs");

async function compiled(path: string, text: string, cacheDir: string) {
  writeFileSync(path, text);
  const plan = await planPage(extractPage(path, text));
  const files = new Map<string, string>();
  for (const c of plan.cells) files.set(c.name, (await compileCell(c, path, cacheDir)).file);
  return { plan, files };
}

export default async function concurrency(): Promise<Row[]> {
  const jobs = CORES * 2;
  log(`\n## concurrency (--jobs ${jobs}, the default: cores x 2)`);
  const dir = scratch("concurrency");
  const cacheDir = join(dir, "cache");

  const small = await compiled(join(dir, "small24.md"), smallCellsPage(24), cacheDir);
  const smallSpec = join(dir, "small24.json");
  writeFileSync(smallSpec, JSON.stringify({ jobs, cells: [...small.files.values()] }));

  const pairs = await compiled(join(dir, "pairs8.md"), tcpPairsPage(8), cacheDir);
  const pairSpec = join(dir, "pairs8.json");
  writeFileSync(pairSpec, JSON.stringify({ jobs, pairs: Array.from({ length: 8 }, (_, i) => ({ server: pairs.files.get(`server${i}`), client: pairs.files.get(`client${i}`), port: `p${i}` })) }));

  const lectern = (page: string) => async () => ok(await exec(NODE, [BIN, "run", page, "--cache", cacheDir, "--jobs", String(jobs)], { env: SMALL_ENV, timeoutMs: 60_000 }), `lectern run ${page}`);
  const node = (spec: string) => async () => ok(await exec(NODE, [ORCHESTRATE, spec], { env: SMALL_ENV, timeoutMs: 60_000 }), `orchestrate ${spec}`);
  const t = await interleave(RUNS, {
    "lectern run: 24 small cells (warm)": lectern(join(dir, "small24.md")),
    "node orchestrator: 24 small cells": node(smallSpec),
    "lectern run: 8 TCP pairs (warm)": lectern(join(dir, "pairs8.md")),
    "node orchestrator: 8 TCP pairs (poll the port)": node(pairSpec),
  });
  const l24 = t["lectern run: 24 small cells (warm)"]!.median;
  const n24 = t["node orchestrator: 24 small cells"]!.median;
  const l8 = t["lectern run: 8 TCP pairs (warm)"]!.median;
  const n8 = t["node orchestrator: 8 TCP pairs (poll the port)"]!.median;
  return [
    { part: "concurrency", measure: `24 small cells: lectern run (--jobs ${jobs})`, value: fmtMs(l24), ratio: `${fmtRatio(l24 / n24)} node`, target: "<= 1.5x node", met: l24 / n24 <= 1.5 },
    { part: "concurrency", measure: `24 small cells: node, ${jobs} at a time`, value: fmtMs(n24), ratio: "1.00x node" },
    { part: "concurrency", measure: "8 TCP pairs: lectern run", value: fmtMs(l8), ratio: `${fmtRatio(l8 / n8)} node` },
    { part: "concurrency", measure: "8 TCP pairs: node, port polled", value: fmtMs(n8), ratio: "1.00x node" },
  ];
}

await standalone(import.meta.url, concurrency);
