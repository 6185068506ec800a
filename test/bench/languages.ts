// Languages: what it costs to start a Python cell through Lectern against `python3 file.py`, and a
// cached C cell against running its binary by hand, on one-cell pages and per cell over a page of
// ten run one at a time (where the page's set-up is shared), sandbox on and off, interleaved. The
// baselines run the same file (the same binary) with the same interpreter, spawned from this
// same process as Lectern spawns its cells.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { executePlan, type ExecuteOptions } from "../../runner/execute/execute.ts";
import { createLimiter } from "../../runner/execute/limit.ts";
import { compileC } from "../../runner/execute/native.ts";
import { findTool } from "../../runner/execute/tools.ts";
import { extractPage } from "../../runner/extract/extract.ts";
import { planPage } from "../../runner/plan/plan.ts";
import type { Plan } from "../../runner/types.ts";
import { CORES, RUNS, SMALL_ENV, exec, fmtMs, fmtRatio, interleave, log, ok, scratch, standalone, type Row } from "./lib.ts";

const PY = 'import socket\nprint("hello", socket.AF_INET.name)\n';
const C = '#include <stdio.h>\n#include <sys/socket.h>\nint main(void) { printf("hello %d\\n", AF_INET); return 0; }\n';

const page = (lang: string, code: string, count: number) => "# Bench\n\n" + Array.from({ length: count }, (_, i) => "```" + lang + " name=c" + i + "\n" + code.replace("hello", `hello ${i}`) + "```\n\n").join("");

export default async function languages(): Promise<Row[]> {
  log(`\n## languages (${process.version}, ${CORES} cores)`);
  const python = findTool("python3", SMALL_ENV.PATH, true);
  const cc = findTool("cc", SMALL_ENV.PATH, true);
  if (!python || !cc) throw new Error("languages: python3 and cc are needed (Debian: apt-get install python3 gcc)");
  const dir = scratch("languages");
  const cacheDir = join(dir, "cache");
  const options = (unconfined: boolean): ExecuteOptions => ({ cacheDir, timeout: 10, jobs: createLimiter(1), env: SMALL_ENV, maxOutput: 1 << 20, graceMs: 1000, unconfined });
  const plan = async (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return planPage(extractPage(path, text));
  };
  const run = async (p: Plan, unconfined = false) => {
    const r = await executePlan(p, options(unconfined));
    const bad = r.cells.find((c) => c.status !== "passed");
    if (bad) throw new Error(`${bad.name}: ${bad.status} ${bad.reason}\n${bad.output}`);
  };
  const pyOne = await plan("py1.md", page("python", PY, 1));
  const pyTen = await plan("py10.md", page("python", PY, 10));
  const cOne = await plan("c1.md", page("c", C, 1));
  const cTen = await plan("c10.md", page("c", C, 10));
  const pyFile = join(dir, "hello.py");
  writeFileSync(pyFile, PY);
  // The binaries Lectern runs, compiled (and cached) before anything is timed: the cached C cell.
  const binaries: string[] = [];
  for (const c of cTen.cells) binaries.push((await compileC(c, cTen.page.path, cacheDir, cc)).file);
  const cOneBinary = (await compileC(cOne.cells[0]!, cOne.page.path, cacheDir, cc)).file;

  const one = await interleave(RUNS, {
    "python3 hello.py": async () => ok(await exec(python.path, [pyFile], { env: SMALL_ENV }), "python3"),
    "Lectern: one Python cell": () => run(pyOne),
    "Lectern: one Python cell, sandbox off": () => run(pyOne, true),
    "the C cell's binary": async () => ok(await exec(cOneBinary, [], { env: SMALL_ENV }), "binary"),
    "Lectern: one cached C cell": () => run(cOne),
    "Lectern: one cached C cell, sandbox off": () => run(cOne, true),
  });
  const ten = await interleave(RUNS, {
    "10 x python3 hello.py": async () => {
      for (let i = 0; i < 10; i++) ok(await exec(python.path, [pyFile], { env: SMALL_ENV }), "python3");
    },
    "Lectern: 10 Python cells, --jobs 1": () => run(pyTen),
    "Lectern: 10 Python cells, --jobs 1, sandbox off": () => run(pyTen, true),
    "10 x the C binaries": async () => {
      for (const b of binaries) ok(await exec(b, [], { env: SMALL_ENV }), "binary");
    },
    "Lectern: 10 cached C cells, --jobs 1": () => run(cTen),
    "Lectern: 10 cached C cells, --jobs 1, sandbox off": () => run(cTen, true),
  });
  const m = (r: Record<string, { median: number }>, k: string) => r[k]!.median;
  const py = m(one, "python3 hello.py");
  const bin = m(one, "the C cell's binary");
  const pyCell = m(ten, "Lectern: 10 Python cells, --jobs 1") / 10;
  const pyBase = m(ten, "10 x python3 hello.py") / 10;
  const cCell = m(ten, "Lectern: 10 cached C cells, --jobs 1") / 10;
  const cBase = m(ten, "10 x the C binaries") / 10;
  const row = (measure: string, value: number, base: number, what: string, target = false): Row => ({
    part: "languages",
    measure,
    value: fmtMs(value),
    ratio: `${fmtRatio(value / base)} ${what}`,
    ...(target ? { target: `<= 1.3x ${what}`, met: value / base <= 1.3 } : {}),
  });
  return [
    row("python3 on the cell's file", py, py, "python3"),
    row("one Python cell, page run in process", m(one, "Lectern: one Python cell"), py, "python3", true),
    row("one Python cell, sandbox off", m(one, "Lectern: one Python cell, sandbox off"), py, "python3"),
    row("per Python cell, 10-cell page, --jobs 1", pyCell, pyBase, "python3", true),
    row("per Python cell, 10-cell page, sandbox off", m(ten, "Lectern: 10 Python cells, --jobs 1, sandbox off") / 10, pyBase, "python3"),
    row("the C cell's binary", bin, bin, "binary"),
    row("one cached C cell, page run in process", m(one, "Lectern: one cached C cell"), bin, "binary", true),
    row("one cached C cell, sandbox off", m(one, "Lectern: one cached C cell, sandbox off"), bin, "binary"),
    row("per cached C cell, 10-cell page, --jobs 1", cCell, cBase, "binary", true),
    row("per cached C cell, 10-cell page, sandbox off", m(ten, "Lectern: 10 cached C cells, --jobs 1, sandbox off") / 10, cBase, "binary"),
  ];
}

await standalone(import.meta.url, languages);
