// Shared by the benchmark scripts: run counts, medians, timed child processes (wall time, CPU of
// the whole process tree, peak RSS), free loopback ports, generated pages and the summary rows.
import { spawnChild } from "../../runner/execute/spawner.ts";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import dgram from "node:dgram";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CORES = availableParallelism();
export const NODE = process.execPath;
export const BIN = join(ROOT, "runner", "bin.mjs");
/** The lecture page the end-to-end bench runs. */
export const LECTURE = "notebook/lec3-socket-programming.md";
export const TSX = join(ROOT, "node_modules", ".bin", "tsx");
/** `--quick` (or BENCH_QUICK=1): one run of everything and a smaller course, to see that it all works. */
export const QUICK = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const forced = process.env.BENCH_RUNS ? Math.max(1, Number(process.env.BENCH_RUNS)) : null;
/** Runs per figure: 5 by default, 3 for the slow ones; BENCH_RUNS sets both. */
export const RUNS = forced ?? (QUICK ? 1 : 5);
export const SLOW_RUNS = forced ?? (QUICK ? 1 : 3);
/** The same small environment Lectern gives its cells, so no inherited NODE_OPTIONS tilts a baseline. */
export const SMALL_ENV: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };

const scratches: string[] = [];

/** A scratch folder in the system's temporary folder, removed by cleanup(). */
export function scratch(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `lectern-bench-${name}-`));
  scratches.push(dir);
  return dir;
}

/** Removes the scratch folders (caches, built sites, generated courses) made so far. */
export function cleanup(): void {
  for (const dir of scratches.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A scratch folder inside the repository (test/bench/.tmp/, ignored by git): cells run by hand
 * with tsx resolve `import ... from "lectern"` only from inside the repository.
 */
export function repoScratch(name: string): string {
  const dir = join(ROOT, "test", "bench", ".tmp", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Sampled {
  median: number;
  samples: number[];
}

/** Times `fn` `runs` times (after `warmup` untimed runs) and prints its median. */
export async function sample(label: string, runs: number, fn: () => Promise<unknown>, warmup = 1): Promise<Sampled> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  const m = median(samples);
  log(`${label.padEnd(58)} ${fmtMs(m).padStart(10)}  (median of ${runs}: ${samples.map((s) => s.toFixed(0)).join(", ")})`);
  return { median: m, samples };
}

/**
 * Times several alternatives interleaved (a, b, c, a, b, c, ...), so a slow spell of the machine
 * hits them all alike; each label gets its median.
 */
export async function interleave(runs: number, fns: Record<string, () => Promise<unknown>>, warmup = 1): Promise<Record<string, Sampled>> {
  const labels = Object.keys(fns);
  for (let i = 0; i < warmup; i++) for (const l of labels) await fns[l]!();
  const samples: Record<string, number[]> = Object.fromEntries(labels.map((l) => [l, []]));
  for (let i = 0; i < runs; i++) {
    for (const l of labels) {
      const t = performance.now();
      await fns[l]!();
      samples[l]!.push(performance.now() - t);
    }
  }
  const out: Record<string, Sampled> = {};
  for (const l of labels) {
    out[l] = { median: median(samples[l]!), samples: samples[l]! };
    log(`${l.padEnd(58)} ${fmtMs(out[l]!.median).padStart(10)}  (median of ${runs}: ${samples[l]!.map((s) => s.toFixed(0)).join(", ")})`);
  }
  return out;
}

export const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
export const fmtRatio = (r: number) => `${r.toFixed(2)}x`;
export const log = (line: string) => process.stderr.write(line + "\n");

export interface Exec {
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** With `measure`: user+sys seconds of the process and every descendant it waited for. */
  cpuS?: number;
  /** With `measure`: peak resident set of the command's own process (VmHWM), in MiB. */
  peakMiB?: number;
}

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  /** Wrap in /usr/bin/time for the tree's CPU and poll /proc for the process's VmHWM. */
  measure?: boolean;
}

/**
 * Runs a command in a process group of its own and waits for it; on timeout, or whatever it left
 * running when it ended, the group is killed. Never throws on a non-zero exit.
 */
export function exec(command: string, args: string[], options: ExecOptions = {}): Promise<Exec> {
  const timeFile = options.measure ? join(tmpdir(), `lectern-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`) : null;
  const [cmd, argv] = timeFile ? ["/usr/bin/time", ["-f", "%U %S", "-o", timeFile, command, ...args]] : [command, args];
  const t0 = performance.now();
  // Forked as a shell would fork it, and as Lectern forks its cells (the spawner): Node's own
  // spawn() forks the whole bench process, 7 to 16 ms here, which neither of them pays.
  const started = spawnChild(cmd, argv, { cwd: options.cwd ?? ROOT, env: options.env ?? (process.env as Record<string, string>), detached: true, stdio: ["pipe", "pipe", "pipe"] });
  return started.then((child) => new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin!.on("error", () => {});
    child.stdin!.end(options.input ?? "");
    let timedOut = false;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // The group is gone already.
      }
    };
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          killGroup("SIGKILL");
        }, options.timeoutMs)
      : null;
    // Peak memory: VmHWM only grows, so the last value read before the process ends is its peak.
    let peakKiB = 0;
    let target: number | null = timeFile ? null : child.pid!;
    const poll = options.measure
      ? setInterval(() => {
          try {
            target ??= Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/)[0]) || null;
            if (target === null) return;
            const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${target}/status`, "utf8"));
            if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
          } catch {
            // Not started yet or already gone.
          }
        }, 20)
      : null;
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = performance.now() - t0;
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      killGroup("SIGKILL");
      const result: Exec = { ms, code, signal, stdout, stderr, timedOut };
      if (timeFile) {
        try {
          const [u, s] = readFileSync(timeFile, "utf8").trim().split("\n").at(-1)!.split(/\s+/).map(Number);
          result.cpuS = u! + s!;
        } catch {
          result.cpuS = NaN;
        }
        rmSync(timeFile, { force: true });
        result.peakMiB = peakKiB / 1024;
        // /usr/bin/time reports a non-zero exit of its command as "Command exited with ...".
      }
      resolve(result);
    });
  }));
}

/** Fails loudly: a benchmark of a run that did not work measures nothing. */
export function ok(r: Exec, what: string): Exec {
  if (r.code !== 0 || r.timedOut) {
    throw new Error(`${what} failed (exit ${r.code}${r.signal ? `, ${r.signal}` : ""}${r.timedOut ? ", timed out" : ""}):\n${r.stderr.slice(-2000)}\n${r.stdout.slice(-2000)}`);
  }
  return r;
}

/** A loopback port free for TCP and UDP at the moment of asking (the OS picks it). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const udp = dgram.createSocket("udp4");
    const free = await new Promise<boolean>((r) => {
      udp.once("error", () => r(false));
      udp.bind(port, "127.0.0.1", () => r(true));
    });
    udp.close();
    await new Promise((r) => server.close(r));
    if (free) return port;
  }
  throw new Error("no free loopback port");
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (polling every 10 ms, bounded). */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`nothing listened on ${port} within ${timeoutMs} ms`);
}

/** The compiled cells (.mjs) Lectern keeps in a cache folder. */
export function compiledFiles(cacheDir: string): string[] {
  const dir = join(cacheDir, "compiled");
  return readdirSync(dir).filter((n) => n.endsWith(".mjs")).map((n) => join(dir, n));
}

// ---- generated pages ----

const udpServer = (name: string) => `import dgram from "node:dgram";
import { port } from "lectern";
const s = dgram.createSocket("udp4");
s.on("message", (m, from) => s.send(String(m).toUpperCase(), from.port, from.address));
s.bind(port("${name}"), "127.0.0.1");
`;
const udpClient = (name: string, msg: string) => `import dgram from "node:dgram";
import { port } from "lectern";
const c = dgram.createSocket("udp4");
c.on("message", (m) => { console.log(String(m)); c.close(); });
c.send("${msg}", port("${name}"), "127.0.0.1");
`;
const tcpServer = (name: string) => `import net from "node:net";
import { port } from "lectern";
net.createServer((c) => c.on("data", (d) => c.end(String(d).toUpperCase()))).listen(port("${name}"), "127.0.0.1");
`;
const tcpClient = (name: string, msg: string) => `import net from "node:net";
import { port } from "lectern";
const c = net.connect(port("${name}"), "127.0.0.1", () => c.write("${msg}"));
c.on("data", (d) => console.log(String(d)));
`;
const fence = (info: string, code: string) => "```ts " + info + "\n" + code + "```\n";

/** Cell sources of a server/client pair, keyed by role, for a port called `name`. */
export const pairCode = { udpServer, udpClient, tcpServer, tcpClient };

/** A course page: prose, a UDP pair and a TCP pair, like a lecture's. */
export function coursePage(i: number): string {
  const prose = (topic: string) =>
    `The ${topic} of page ${i}: a server that answers in upper case and a client that asks it once. ` +
    "Every program runs as its own process; the port is handed out by the operating system on each run.\n\n" +
    "- the client sends one message\n- the server answers it\n- the client prints the answer and ends\n\n";
  return (
    `# Page ${i}: UDP and TCP\n\n${prose("introduction")}## UDP\n\n${prose("UDP pair")}` +
    fence("name=udp-server server", udpServer("udp")) + "\n" + fence("name=udp-client", udpClient("udp", `hello udp ${i}`)) +
    `\n## TCP\n\n${prose("TCP pair")}` +
    fence("name=tcp-server server", tcpServer("tcp")) + "\n" + fence("name=tcp-client", tcpClient("tcp", `hello tcp ${i}`)) +
    "\n## Summary\n\n| | UDP | TCP |\n| --- | --- | --- |\n| connection | none | set up first |\n| boundaries | kept | not kept |\n"
  );
}

/** Small independent cells: each computes a little and prints one line. */
export function smallCellCode(i: number): string {
  return `const n: number = ${i};\nlet sum = 0;\nfor (let k = 0; k < 1000; k++) sum += k * n;\nconsole.log(\`cell ${i}: \${sum}\`);\n`;
}

export function smallCellsPage(count: number): string {
  let out = `# ${count} small cells\n\n`;
  for (let i = 0; i < count; i++) out += `Cell ${i}.\n\n` + fence(`name=c${i}`, smallCellCode(i)) + "\n";
  return out;
}

/** `pairs` TCP server/client pairs, each on a port of its own. */
export function tcpPairsPage(pairs: number): string {
  let out = `# ${pairs} TCP pairs\n\n`;
  for (let i = 0; i < pairs; i++) {
    out += fence(`name=server${i} server`, tcpServer(`p${i}`)) + "\n" + fence(`name=client${i}`, tcpClient(`p${i}`, `hello ${i}`)) + "\n";
  }
  return out;
}

// ---- results ----

export interface Row {
  part: string;
  measure: string;
  value: string;
  /** The comparison, e.g. "1.21x node"; empty when there is none. */
  ratio?: string;
  target?: string;
  /** true met, false missed, undefined: no target. */
  met?: boolean;
}

export type Bench = () => Promise<Row[]>;

/** Lets a bench script run on its own (`tsx test/bench/launch.ts`) and print its rows. */
export async function standalone(url: string, bench: Bench): Promise<void> {
  if (process.argv[1] && pathToFileURL(process.argv[1]).href === url) {
    let rows: Row[];
    try {
      rows = await bench();
    } finally {
      cleanup();
    }
    process.stdout.write(table(rows) + "\n");
  }
}

export function table(rows: Row[]): string {
  const head = ["part", "measure", "value", "comparison", "target"];
  const body = rows.map((r) => [r.part, r.measure, r.value, r.ratio ?? "", r.target ? `${r.target} ${r.met === undefined ? "" : r.met ? "(met)" : "(MISSED)"}`.trim() : ""]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  return [line(head), "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |", ...body.map(line)].join("\n");
}
