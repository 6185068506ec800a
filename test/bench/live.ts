// Live notebook: from the Run click in Chromium to the cell's first byte of output in the page,
// against `lectern run PAGE --cell NAME` from its start to its first byte on stdout, interleaved in
// the same run, both with the sandbox and a warm compile cache; and the CPU an idle `serve` uses
// with a browser connected, against an idle `node` process over the same window.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "../chromium.ts";
import { BIN, NODE, RUNS, fmtMs, fmtRatio, interleave, log, scratch, standalone, type Row } from "./lib.ts";

const PAGE = '# Bench\n\n```ts name=hello\nconsole.log("first");\n```\n';
const IDLE_MS = 5000;

/** Milliseconds from spawning `lectern run --cell` to its first byte on stdout (then it is let finish). */
function runFirstByte(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    const child = spawn(NODE, [BIN, "run", "page.md", "--cell", "hello", "--cache", join(dir, "cache")], { cwd: dir, stdio: ["ignore", "pipe", "ignore"] });
    child.stdout.once("data", () => (first = performance.now() - t0));
    child.stdout.resume();
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(first) : reject(new Error(`lectern run exited with ${code}`))));
  });
}

/** CPU time (user + system) a process has used so far, in ms, from /proc. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command's name), in ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function startServe(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(NODE, [BIN, "serve", "page.md", "--port", "0", "--cache", join(dir, "cache")], { cwd: dir, stdio: ["ignore", "pipe", "ignore"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      const m = /^serving (\S+) /m.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { child, url };
}

export default async function live(): Promise<Row[]> {
  log("\n## live notebook (lectern serve)");
  const dir = scratch("live");
  writeFileSync(join(dir, "page.md"), PAGE);
  const serve = await startServe(dir);
  const browser = await launchChromium();
  try {
    const tab = await browser.newPage();
    tab.setDefaultTimeout(30_000);
    await tab.goto(serve.url.replace("/?token=", "/page.html?token="));
    await tab.locator("#cell-hello .live-bar").waitFor();
    // In the page: the click, then the first text in the cell's live output; then the run's end.
    const click = async () => {
      const ms = await tab.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const t0 = performance.now();
            const seen = new MutationObserver(() => {
              if (document.querySelector("#cell-hello .live-output pre")?.textContent) {
                seen.disconnect();
                resolve(performance.now() - t0);
              }
            });
            seen.observe(document.body, { subtree: true, childList: true, characterData: true });
            (document.querySelector("#cell-hello .live-run") as HTMLButtonElement).click();
          }),
      );
      await tab.waitForFunction(() => !document.querySelector("#cell-hello .live-output") && !document.querySelector(".live-running"));
      return ms;
    };
    const times: Record<string, number[]> = { click: [], run: [] };
    await interleave(RUNS, {
      "live: Run click, first output, run ends (whole round)": async () => void times.click!.push(await click()),
      "lectern run --cell to its exit (whole round)": async () => void times.run!.push(await runFirstByte(dir)),
    });
    // The rounds above are timed whole; the figures compared are the first bytes inside them.
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const clickMs = med(times.click!.slice(-RUNS));
    const runMs = med(times.run!.slice(-RUNS));

    // Idle: the page open (its event stream connected), nothing running.
    await new Promise((r) => setTimeout(r, 500));
    const idle = spawn(NODE, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 300));
    const before = [cpuMs(serve.child.pid!), cpuMs(idle.pid!)];
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const used = [cpuMs(serve.child.pid!) - before[0]!, cpuMs(idle.pid!) - before[1]!];
    idle.kill();
    log(`idle serve with a browser connected: ${used[0]} ms CPU in ${IDLE_MS} ms; idle node: ${used[1]} ms`);
    const ratio = clickMs / runMs;
    return [
      { part: "live", measure: "Run click -> first output byte (Chromium)", value: fmtMs(clickMs), ratio: `${fmtRatio(ratio)} run --cell (${fmtMs(runMs)})`, target: "<= 1.3x", met: ratio <= 1.3 },
      { part: "live", measure: `idle serve CPU, browser connected (${IDLE_MS / 1000} s)`, value: `${used[0]} ms`, ratio: `idle node: ${used[1]} ms`, target: "no CPU (< 1% of a core)", met: used[0]! < IDLE_MS / 100 },
    ];
  } finally {
    await browser.close();
    serve.child.kill("SIGTERM");
  }
}

await standalone(import.meta.url, live);
