// Launch: what it costs to start one cell through Lectern (warm: compiled, cached), against
// `node` on the compiled file and `tsx` on the source; and the per-cell cost over a page of 10
// independent cells run one at a time, where a page run's fixed set-up is shared. Each Lectern
// figure is measured with the sandbox (bubblewrap) on and off in the same run: its cost per cell.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { probeSandbox } from "../../runner/execute/bwrap.ts";
import { compileCell } from "../../runner/execute/compile.ts";
import { executePlan, type ExecuteOptions } from "../../runner/execute/execute.ts";
import { extractPage } from "../../runner/extract/extract.ts";
import { createLimiter } from "../../runner/execute/limit.ts";
import { planPage } from "../../runner/plan/plan.ts";
import { BIN, CORES, NODE, RUNS, SMALL_ENV, TSX, exec, fmtMs, fmtRatio, interleave, log, ok, repoScratch, scratch, smallCellsPage, standalone, type Row } from "./lib.ts";

const CODE = 'import net from "node:net";\nconst greeting: string = "hello";\nconsole.log(greeting, typeof net.connect);\n';

export default async function launch(): Promise<Row[]> {
  log(`\n## launch (${process.version}, ${CORES} cores)`);
  const dir = scratch("launch");
  const cacheDir = join(dir, "cache");
  const pagePath = join(dir, "page.md");
  const pageText = "# Bench\n\n```ts name=hello\n" + CODE + "```\n";
  writeFileSync(pagePath, pageText);
  // tsx resolves "lectern" only inside the repository, so the hand-run copy lives there.
  const source = join(repoScratch("launch"), "hello.ts");
  writeFileSync(source, CODE);

  const plan = await planPage(extractPage(pagePath, pageText));
  const compiled = (await compileCell(plan.cells[0]!, pagePath, cacheDir)).file;
  // Sandbox on (bubblewrap, where this machine has it) and off, side by side in one run.
  const sandboxed = (await probeSandbox()).bwrap !== null;
  const options = (jobs: number, unconfined = false): ExecuteOptions => ({ cacheDir, timeout: 10, jobs: createLimiter(jobs), env: SMALL_ENV, maxOutput: 1 << 20, graceMs: 1000, unconfined });
  const inProcess = async (p: typeof plan, jobs: number, unconfined = false) => {
    const r = await executePlan(p, options(jobs, unconfined));
    const bad = r.cells.find((c) => c.status !== "passed");
    if (bad) throw new Error(`${bad.name}: ${bad.status} ${bad.reason}\n${bad.output}`);
  };

  const one = await interleave(RUNS, {
    "node compiled.mjs (same small env)": async () => ok(await exec(NODE, [compiled], { env: SMALL_ENV }), "node"),
    "Lectern: one cell, warm (executePlan in process)": () => inProcess(plan, CORES),
    "Lectern: one cell, warm, sandbox off": () => inProcess(plan, CORES, true),
    "tsx hello.ts": async () => ok(await exec(TSX, [source], { env: SMALL_ENV }), "tsx"),
    "lectern run page.md (whole CLI, warm)": async () => ok(await exec(NODE, [BIN, "run", pagePath, "--cache", cacheDir], { env: SMALL_ENV }), "lectern run"),
  });
  const node = one["node compiled.mjs (same small env)"]!.median;
  const lectern = one["Lectern: one cell, warm (executePlan in process)"]!.median;
  const lecternOff = one["Lectern: one cell, warm, sandbox off"]!.median;
  const tsx = one["tsx hello.ts"]!.median;
  const cli = one["lectern run page.md (whole CLI, warm)"]!.median;

  // Ten independent cells, one at a time: the page's fixed set-up (network namespace, port
  // locks) is paid once and shared, so this is the per-cell launch cost itself.
  const tenPath = join(dir, "ten.md");
  const tenText = smallCellsPage(10);
  writeFileSync(tenPath, tenText);
  const ten = await planPage(extractPage(tenPath, tenText));
  const tenFiles: string[] = [];
  for (const c of ten.cells) tenFiles.push((await compileCell(c, tenPath, cacheDir)).file);
  const page = await interleave(RUNS, {
    "10 cells, --jobs 1 (executePlan in process)": () => inProcess(ten, 1),
    "10 cells, --jobs 1, sandbox off": () => inProcess(ten, 1, true),
    "10 x node compiled.mjs, one after another": async () => {
      for (const f of tenFiles) ok(await exec(NODE, [f], { env: SMALL_ENV }), "node");
    },
    "lectern run ten.md --jobs 1 (whole CLI, warm)": async () => ok(await exec(NODE, [BIN, "run", tenPath, "--jobs", "1", "--cache", cacheDir], { env: SMALL_ENV }), "lectern run"),
  });
  const perCell = page["10 cells, --jobs 1 (executePlan in process)"]!.median / 10;
  const perCellOff = page["10 cells, --jobs 1, sandbox off"]!.median / 10;
  const perNode = page["10 x node compiled.mjs, one after another"]!.median / 10;
  const perCli = page["lectern run ten.md --jobs 1 (whole CLI, warm)"]!.median / 10;

  return [
    { part: "launch", measure: "node on the compiled cell", value: fmtMs(node), ratio: "1.00x node" },
    { part: "launch", measure: "Lectern, one cell, warm (in process)", value: fmtMs(lectern), ratio: `${fmtRatio(lectern / node)} node`, target: "<= 1.3x node", met: lectern / node <= 1.3 },
    { part: "launch", measure: "tsx on the source", value: fmtMs(tsx), ratio: `${fmtRatio(tsx / node)} node` },
    { part: "launch", measure: "lectern run, one-cell page (whole CLI)", value: fmtMs(cli), ratio: `${fmtRatio(cli / node)} node` },
    { part: "launch", measure: "per cell, 10-cell page, --jobs 1 (in process)", value: fmtMs(perCell), ratio: `${fmtRatio(perCell / perNode)} node (${fmtMs(perNode)})`, target: "<= 1.3x node", met: perCell / perNode <= 1.3 },
    { part: "launch", measure: "per cell, 10-cell page, --jobs 1 (whole CLI)", value: fmtMs(perCli), ratio: `${fmtRatio(perCli / perNode)} node` },
    { part: "launch", measure: "one cell, warm, sandbox off (in process)", value: fmtMs(lecternOff), ratio: `${fmtRatio(lecternOff / node)} node` },
    { part: "launch", measure: "per cell, 10-cell page, --jobs 1, sandbox off", value: fmtMs(perCellOff), ratio: `${fmtRatio(perCellOff / perNode)} node` },
    {
      part: "launch",
      measure: sandboxed ? "the sandbox's cost per cell (10-cell page, on - off)" : "the sandbox's cost per cell: not measured (no bubblewrap here)",
      value: sandboxed ? fmtMs(perCell - perCellOff) : "-",
      ratio: sandboxed ? `one-cell page: ${fmtMs(lectern - lecternOff)}` : "",
      target: "<= 15 ms",
      met: sandboxed ? perCell - perCellOff <= 15 : undefined,
    },
  ];
}

await standalone(import.meta.url, launch);
