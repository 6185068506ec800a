// npm run bench: how much it costs to launch one cell through Lectern, against `node` on the
// compiled file and `tsx` on the source, measured side by side in this run and given as ratios.
import { mkdtempSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { compileCell } from "../../runner/compile.ts";
import { executePlan } from "../../runner/execute.ts";
import { extractPage } from "../../runner/extract.ts";
import { createLimiter } from "../../runner/limit.ts";
import { planPage } from "../../runner/plan.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const dir = mkdtempSync(join(tmpdir(), "lectern-bench-"));
const cacheDir = join(dir, "cache");
const code = 'import net from "node:net";\nconst greeting: string = "hello";\nconsole.log(greeting, typeof net.connect);\n';
const pagePath = join(dir, "page.md");
writeFileSync(pagePath, "# Bench\n\n```ts name=hello\n" + code + "```\n");
// tsx resolves "lectern" only inside the repository, so its copy of the cell stays there too.
const source = join(dir, "hello.ts");
writeFileSync(source, code);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(label: string, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up: caches filled, files in the page cache
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  const m = median(samples);
  console.log(`${label.padEnd(44)} ${m.toFixed(1).padStart(7)} ms  (median of ${RUNS})`);
  return m;
}

// Every command is started the same way Lectern starts a cell: a plain spawn, no shell.
const run = promisify(execFile);
const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const page = extractPage(pagePath, "# Bench\n\n```ts name=hello\n" + code + "```\n");
const plan = await planPage(page);
const compiled = (await compileCell(plan.cells[0]!, pagePath, cacheDir)).file;
const options = { cacheDir, timeout: 10, jobs: createLimiter(availableParallelism()), env: { PATH: process.env.PATH ?? "" }, maxOutput: 1 << 20, graceMs: 1000 };

console.log(`launch of one cell, ${process.version}, ${availableParallelism()} cores\n`);
// The same small environment Lectern gives cells, so no inherited NODE_OPTIONS tilts the baseline.
const node = await time("node compiled.mjs", () => run(process.execPath, [compiled], { env: options.env }));
const lectern = await time("Lectern: one cell, warm (in process)", async () => {
  const r = await executePlan(plan, options);
  if (r.cells[0]!.status !== "passed") throw new Error(r.cells[0]!.output);
});
const tsx = await time("tsx hello.ts", () => run(process.execPath, [TSX, source], { cwd: ROOT }));
const cli = await time("lectern run page.md (whole CLI, warm)", () => run(process.execPath, ["runner/bin.mjs", "run", pagePath, "--cache", cacheDir], { cwd: ROOT }));

console.log(`
| measure                          | ratio to node |
| -------------------------------- | ------------- |
| Lectern, one cell (target 1.3x)  | ${(lectern / node).toFixed(2)}x |
| tsx on the source                | ${(tsx / node).toFixed(2)}x |
| lectern run, whole CLI           | ${(cli / node).toFixed(2)}x |`);
