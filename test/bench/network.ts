// A network on the page: what building and tearing down a two-host network adds to a page run.
// The same page of one small cell, run in process as `lectern run` runs it (executePlan), once
// on loopback (the page's one namespace) and once on a network of two hosts joined by a lossy,
// rate-limited link; the difference is what the network costs. In process, from the second page
// on, a loopback page finds its namespace and capture made while the page before it ran (a
// spare, sandbox.ts), and a network page does not; so the same two pages are also run as users
// run one page, each a whole `lectern run` of its own, where neither has a spare. Also the build
// alone (buildNetwork, then close), with and without a delayed link (the TUN relay).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { executePlan, type ExecuteOptions } from "../../runner/execute/execute.ts";
import { extractPage } from "../../runner/extract/extract.ts";
import { createLimiter } from "../../runner/execute/limit.ts";
import { planPage } from "../../runner/plan/plan.ts";
import { buildNetwork } from "../../runner/network/build.ts";
import { parseNetwork } from "../../runner/network/spec.ts";
import { BIN, CORES, NODE, RUNS, SMALL_ENV, exec, fmtMs, interleave, log, ok, scratch, standalone, type Row } from "./lib.ts";

// A Python cell: it starts in about a quarter of a shell cell's time (node and zx), whose swings
// on a busy machine would otherwise be most of the difference measured.
const CELL = "```python name=hello\nprint('hello')\n```\n";
const network = (link: string) => `\`\`\`network\nhost a b\nlink a b${link}\n\`\`\`\n\n`;
/** The same cell on loopback, on two hosts joined by a plain link, and by a lossy, rate-limited one. */
const PAGES: [string, string][] = [
  ["loopback", CELL],
  ["two hosts", network("") + CELL],
  ["two hosts (loss, rate)", network(" loss=1% rate=10mbit") + CELL],
];

const more = (ms: number) => `${ms < 0 ? "-" : "+"}${fmtMs(Math.abs(ms))}`;

export default async function networkPart(): Promise<Row[]> {
  log("\n## network (a page of one cell, on loopback and on two hosts)");
  const dir = scratch("network");
  const files = PAGES.map((_, i) => join(dir, `page${i}.md`));
  const plans = await Promise.all(
    PAGES.map(async ([, text], i) => {
      writeFileSync(files[i]!, text);
      return planPage(extractPage(files[i]!, text));
    }),
  );
  const options: ExecuteOptions = { cacheDir: join(dir, "cache"), timeout: 20, jobs: createLimiter(CORES), env: SMALL_ENV, maxOutput: 1 << 20, graceMs: 1000 };
  const inProcess = (i: number) => async () => {
    const r = await executePlan(plans[i]!, options);
    if (r.cells[0]!.status !== "passed") throw new Error(`page ${i}: ${r.cells[0]!.status} ${r.cells[0]!.reason}`);
  };
  const cli = (i: number) => async () => ok(await exec(NODE, [BIN, "run", files[i]!, "--cache", join(dir, "cache")], { env: SMALL_ENV }), "lectern run");
  const runs = RUNS * 2;
  const rows: Row[] = [];
  for (const [how, fn] of [["in process", inProcess], ["a whole lectern run", cli]] as const) {
    const t = await interleave(runs, Object.fromEntries(PAGES.map(([name], i) => [`${name}, ${how}`, fn(i)])));
    const base = t[`loopback, ${how}`]!.median;
    for (const [name] of PAGES) {
      const v = t[`${name}, ${how}`]!.median;
      const extra = name === "loopback" ? {} : { ratio: more(v - base), target: "<= +50 ms", met: v - base <= 50 };
      rows.push({ part: "network", measure: `page of one cell on ${name}, ${how}`, value: fmtMs(v), ...extra });
    }
  }
  const build = (text: string) => async () => (await buildNetwork(parseNetwork("bench.md", text, 1))).close();
  const alone = await interleave(runs, { "two hosts, lossy link": build("host a b\nlink a b loss=1% rate=10mbit"), "two hosts, 20 ms link": build("host a b\nlink a b delay=20ms") });
  return [
    ...rows,
    { part: "network", measure: "build and tear down: two hosts, lossy link", value: fmtMs(alone["two hosts, lossy link"]!.median) },
    { part: "network", measure: "build and tear down: two hosts, 20 ms link (relay)", value: fmtMs(alone["two hosts, 20 ms link"]!.median) },
  ];
}

await standalone(import.meta.url, networkPart);
