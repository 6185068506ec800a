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

const CELL = "```sh name=hello\necho hello\n```\n";
const NETWORK = "```network\nhost a b\nlink a b loss=1% rate=10mbit\n```\n\n";

const more = (ms: number) => `${ms < 0 ? "-" : "+"}${fmtMs(Math.abs(ms))}`;

export default async function network(): Promise<Row[]> {
  log("\n## network (a page of one cell, on loopback and on two hosts)");
  const dir = scratch("network");
  const plans = await Promise.all(
    [CELL, NETWORK + CELL].map(async (text, i) => {
      const path = join(dir, `page${i}.md`);
      writeFileSync(path, text);
      return planPage(extractPage(path, text));
    }),
  );
  const options: ExecuteOptions = { cacheDir: join(dir, "cache"), timeout: 20, jobs: createLimiter(CORES), env: SMALL_ENV, maxOutput: 1 << 20, graceMs: 1000 };
  const run = (i: number) => async () => {
    const r = await executePlan(plans[i]!, options);
    if (r.cells[0]!.status !== "passed") throw new Error(`page ${i}: ${r.cells[0]!.status} ${r.cells[0]!.reason}`);
  };
  const runs = RUNS * 2;
  const pages = await interleave(runs, { "one cell on loopback": run(0), "one cell on a two-host network": run(1) });
  const plain = pages["one cell on loopback"]!.median;
  const hosts = pages["one cell on a two-host network"]!.median;
  const cli = (i: number) => async () => ok(await exec(NODE, [BIN, "run", join(dir, `page${i}.md`), "--cache", join(dir, "cache")], { env: SMALL_ENV }), "lectern run");
  const whole = await interleave(runs, { "lectern run, loopback": cli(0), "lectern run, two hosts": cli(1) });
  const [cliPlain, cliHosts] = [whole["lectern run, loopback"]!.median, whole["lectern run, two hosts"]!.median];
  const build = (text: string) => async () => (await buildNetwork(parseNetwork("bench.md", text, 1))).close();
  const alone = await interleave(runs, { "two hosts, lossy link": build("host a b\nlink a b loss=1% rate=10mbit"), "two hosts, 20 ms link": build("host a b\nlink a b delay=20ms") });
  return [
    { part: "network", measure: "page of one cell on loopback", value: fmtMs(plain) },
    { part: "network", measure: "same page on two hosts (loss, rate)", value: fmtMs(hosts), ratio: more(hosts - plain), target: "<= +50 ms", met: hosts - plain <= 50 },
    { part: "network", measure: "lectern run of the page on loopback (whole CLI)", value: fmtMs(cliPlain) },
    { part: "network", measure: "lectern run of the page on two hosts (whole CLI)", value: fmtMs(cliHosts), ratio: more(cliHosts - cliPlain), target: "<= +50 ms", met: cliHosts - cliPlain <= 50 },
    { part: "network", measure: "build and tear down: two hosts, lossy link", value: fmtMs(alone["two hosts, lossy link"]!.median) },
    { part: "network", measure: "build and tear down: two hosts, 20 ms link (relay)", value: fmtMs(alone["two hosts, 20 ms link"]!.median) },
  ];
}

await standalone(import.meta.url, network);
