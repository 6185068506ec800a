// Check: `lectern check notebook` (every TypeScript cell of every page in one TypeScript
// program), against the floor of any type check: a node process that only loads the compiler.
import { BIN, NODE, SLOW_RUNS, SMALL_ENV, exec, fmtMs, fmtRatio, interleave, log, ok, standalone, type Row } from "./lib.ts";

export default async function check(): Promise<Row[]> {
  log("\n## check");
  const t = await interleave(SLOW_RUNS, {
    "lectern check notebook": async () => ok(await exec(NODE, [BIN, "check", "notebook"], { env: SMALL_ENV, timeoutMs: 120_000 }), "lectern check"),
    "node loading the TypeScript compiler alone": async () => ok(await exec(NODE, ["-e", 'require("typescript")'], { env: SMALL_ENV }), "load typescript"),
  });
  const checkMs = t["lectern check notebook"]!.median;
  const load = t["node loading the TypeScript compiler alone"]!.median;
  return [
    { part: "check", measure: "lectern check notebook (all pages, one program)", value: fmtMs(checkMs), ratio: `${fmtRatio(checkMs / load)} loading tsc alone` },
    { part: "check", measure: "node loading the TypeScript compiler alone", value: fmtMs(load), ratio: "1.00x" },
  ];
}

await standalone(import.meta.url, check);
