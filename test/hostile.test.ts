// Defects found by a hostile QA pass. Every test here fails on the code as it was found and
// passes once the defect is fixed; each asserts what a user should see.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { get } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { executePlan } from "../runner/execute/execute.ts";
import { extractPage } from "../runner/extract/extract.ts";
import { createLimiter } from "../runner/execute/limit.ts";
import { planPage } from "../runner/plan/plan.ts";
import { alive, cacheDir, gone, tmp, ts } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "runner", "bin.mjs");

type Out = { code: number; stdout: string; stderr: string };

function lectern(args: string[], cwd = ROOT): Promise<Out> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 20_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function page(source: string, name = "page.md"): { dir: string; path: string } {
  const dir = tmp("lectern-hostile-");
  const path = join(dir, name);
  writeFileSync(path, source);
  return { dir, path };
}

/** Starts `lectern serve DIR --port 0` and resolves with its URL once it serves. */
function startServe(dir: string): Promise<{ child: ChildProcess; url: string; token: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, "serve", dir, "--port", "0", "--cache", join(dir, ".cache")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 10_000);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /serving (http:\/\/\S+\/)\?token=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, token: m[2]!, exited });
      }
    });
  });
}

/** A GET with exactly this path; with the token that serve printed, as its cookie. */
function httpGet(url: string, path: string, token?: string): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const headers = token ? { cookie: `lectern-token-${u.port}=${token}` } : {};
    const req = get({ host: u.hostname, port: u.port, path, timeout: 3000, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", () => resolve(null));
    req.on("timeout", () => {
      req.destroy();
      resolve(null);
    });
  });
}

const within = <T>(ms: number, p: Promise<T>): Promise<T | "timed out"> =>
  Promise.race([p, new Promise<"timed out">((r) => setTimeout(() => r("timed out"), ms))]);

describe("hostile QA: defects", () => {
  it("Ctrl-C while a cell is still compiling: that cell is not started afterwards, and the run ends at once", async () => {
    // The second cell takes a while to compile; the interrupt comes as soon as the first cell starts.
    // (It bundles a large local module, which planning does not read.)
    // The cells would run for 30 s: a run that ends within 12 s did not wait for them, even on a
    // machine so busy that compiling takes seconds.
    const source = ts("name=quick", "setTimeout(() => {}, 30000);") + ts("name=slow timeout=60", 'import "./big.ts";\nsetTimeout(() => {}, 30000);');
    const { path, dir } = page(source);
    writeFileSync(join(dir, "big.ts"), Array.from({ length: 80_000 }, (_, i) => `export const v${i}: number = ${i} * 2;`).join("\n"));
    const plan = await planPage(extractPage(path, source));
    const controller = new AbortController();
    const started: string[] = [];
    const run = executePlan(plan, {
      cacheDir: tmp("lectern-hostile-cache-"), // cold: compiling is what is interrupted
      timeout: 60,
      jobs: createLimiter(4),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      maxOutput: 1 << 20,
      graceMs: 300,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "start") started.push(e.cell);
        if (e.type === "start" && e.cell === "quick") controller.abort();
      },
    });
    const result = await within(12_000, run);
    expect(result).not.toBe("timed out");
    if (result === "timed out") return;
    const slow = result.cells.find((c) => c.name === "slow")!;
    // Had it started before the interrupt, stopping it would be right too; it must not start after.
    if (started.indexOf("slow") > started.indexOf("quick")) {
      expect(slow.status).toBe("skipped");
      expect(slow.reason).toBe("interrupted before it started");
    }
  }, 30_000);

  it("serve survives a request for a malformed URL (GET /%) and keeps serving", async () => {
    const { dir } = page("# Served\n\n" + ts("name=a", 'console.log("a");'));
    const { child, url, token, exited } = await startServe(dir);
    try {
      const bad = await httpGet(url, "/%", token);
      expect(bad?.status).toBe(400);
      const good = await httpGet(url, "/page.html", token);
      expect(good?.status).toBe(200);
    } finally {
      child.kill("SIGINT");
      if ((await within(3000, exited)) === "timed out") child.kill("SIGKILL");
    }
  }, 20_000);

  it("serve's live reload is allowed by the page's own Content-Security-Policy", async () => {
    const { dir } = page("# Served\n\n" + ts("name=a", 'console.log("a");'));
    const { child, url, token, exited } = await startServe(dir);
    try {
      const res = await httpGet(url, "/page.html", token);
      expect(res?.status).toBe(200);
      const html = res!.body;
      expect(html).toMatch(/<script src="\/__lectern\/live\.[0-9a-f]{12}\.js"><\/script>/);
      const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? "";
      const directive = (name: string) =>
        csp
          .split(";")
          .map((d) => d.trim().split(/\s+/))
          .find((d) => d[0] === name)
          ?.slice(1) ?? null;
      if (csp !== "") {
        // Every inline script must be allowed by script-src, or the browser never runs it.
        const scriptSrc = directive("script-src") ?? directive("default-src") ?? [];
        // (A data block, type="application/json", is never run: the CSP does not apply to it.)
        for (const m of html.matchAll(/<script(?![^>]*\b(?:src=|type="application\/json"))[^>]*>([\s\S]*?)<\/script>/g)) {
          const hash = `'sha256-${createHash("sha256").update(m[1]!).digest("base64")}'`;
          expect(scriptSrc.includes("'unsafe-inline'") || scriptSrc.includes(hash), `inline script blocked by CSP: ${m[0]}`).toBe(true);
        }
        // And the EventSource must be allowed to connect back.
        const connectSrc = directive("connect-src") ?? directive("default-src") ?? [];
        expect(connectSrc.some((s) => s === "'self'" || s === "*" || s.startsWith("http://127.0.0.1"))).toBe(true);
      }
    } finally {
      child.kill("SIGINT");
      if ((await within(3000, exited)) === "timed out") child.kill("SIGKILL");
    }
  }, 20_000);

  it("check rejects an invalid page (a needs cycle) with exit 2 and file:line, like run does", async () => {
    const { path } = page(ts("name=a needs=b", "console.log(1);") + ts("name=b needs=a", "console.log(2);"));
    const run = await lectern(["run", path, "--cache", cacheDir]);
    expect(run.code).toBe(2);
    const check = await lectern(["check", path]);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain(`${path}:1:`);
  }, 20_000);

  it("run given a folder does not silently run only its first page", async () => {
    const dir = tmp("lectern-hostile-");
    writeFileSync(join(dir, "a.md"), "# Index, no cells\n");
    writeFileSync(join(dir, "b.md"), ts("name=fails", "process.exit(3);"));
    const { code, stderr } = await lectern(["run", dir, "--cache", cacheDir]);
    // `run` takes one PAGE: a folder is bad usage (exit 2), never "0 passed, 0 failed" and exit 0.
    expect(code).toBe(2);
    expect(stderr).toContain(dir);
  }, 20_000);

  it("two server cells naming the same port never crash on EADDRINUSE", async () => {
    const server = (word: string) =>
      `import net from "node:net";\nimport { port } from "lectern";\nnet.createServer((c) => c.end("${word}\\n")).listen(port("tcp"), "127.0.0.1");`;
    const client = `import net from "node:net";\nimport { port } from "lectern";\nnet.connect(port("tcp"), "127.0.0.1").on("data", (d) => process.stdout.write(String(d)));`;
    const { path } = page(ts("name=s1 server", server("one")) + ts("name=s2 server", server("two")) + ts("name=c", client));
    const { code, stdout, stderr } = await lectern(["run", path, "--json", "--cache", cacheDir]);
    if (code === 2) {
      // Rejected before anything runs, naming the second server's line.
      expect(stderr).toMatch(/page\.md:\d+:.*tcp/);
    } else {
      const cells = JSON.parse(stdout).pages[0].cells as { name: string; status: string; output: string }[];
      for (const c of cells) expect(c.output).not.toContain("EADDRINUSE");
      expect(cells.map((c) => c.status)).toEqual(["passed", "passed", "passed"]);
      expect(code).toBe(0);
    }
  }, 20_000);

  it("test --update then test: a transcript that contains {port:NAME} text round-trips", async () => {
    const { path } = page("# Update\n\n" + ts("name=literal", 'console.log("use {port:x} in a page");'));
    const update = await lectern(["test", path, "--update", "--cache", cacheDir]);
    expect(update.code).toBe(0);
    const again = await lectern(["test", path, "--cache", cacheDir]);
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(again.stdout.trimEnd().split("\n").at(-1)).toBe("1 passed, 0 failed");
  }, 20_000);

  it("--port with a name the page does not have is bad usage, not silently ignored", async () => {
    const srv = `import net from "node:net";\nimport { port } from "lectern";\nnet.createServer().listen(port("tcp"), "127.0.0.1");`;
    const { path } = page(ts("name=srv server", srv) + ts("name=cli", 'import { port } from "lectern";\nconsole.log(port("tcp"));'));
    const { code, stderr } = await lectern(["run", path, "--port", "tpc=12000", "--cache", cacheDir]);
    expect(code).toBe(2);
    expect(stderr).toContain("tpc");
  }, 20_000);

  it("a server left by a Lectern that was killed (SIGKILL) does not run forever", async () => {
    const srv = `import net from "node:net";\nimport { port } from "lectern";\nnet.createServer().listen(port("tcp"), "127.0.0.1", () => console.log("pid " + process.pid));`;
    const { path } = page(ts("name=srv server", srv));
    const child = spawn(process.execPath, [BIN, "run", path, "--cell", "srv", "--json", "--cache", cacheDir], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const serving = await within(
      10_000,
      new Promise<void>((resolve) => {
        let err = "";
        child.stderr!.setEncoding("utf8").on("data", (d: string) => {
          err += d;
          if (err.includes("press Ctrl-C")) resolve();
        });
      }),
    );
    expect(serving).not.toBe("timed out");
    // The server's pid: the one process whose command line runs a compiled cell from our cache with this code.
    const table = (await new Promise<string>((r) => execFile("ps", ["-eo", "pid,ppid,args"], (_e, out) => r(out)))).split("\n").slice(1).filter(Boolean);
    // Started by Lectern, or by the spawner Lectern started.
    const ppid = (l: string) => Number(l.trim().split(/\s+/)[1]);
    const starters = new Set([child.pid, ...table.filter((l) => ppid(l) === child.pid).map((l) => Number(l.trim().split(/\s+/)[0]))]);
    const pids = table.filter((l) => l.includes(cacheDir) && l.includes("compiled") && starters.has(ppid(l))).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(pids.length).toBe(1);
    const pid = pids[0]!;
    // Whatever else this Lectern started (the spawner, the holder of the page's network namespace).
    const others = table
      .filter((l) => Number(l.trim().split(/\s+/)[1]) === child.pid && Number(l.trim().split(/\s+/)[0]) !== pid)
      .map((l) => Number(l.trim().split(/\s+/)[0]));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    try {
      // Whatever cleans up (the cell noticing, or the next Lectern run reaping), it is gone soon after.
      await lectern(["run", page(ts("name=x", "console.log(1);")).path, "--cache", cacheDir]);
      expect(await gone(pid)).toBe(true);
      for (const other of others) expect(await gone(other)).toBe(true);
    } finally {
      for (const p of [pid, ...others]) if (alive(p)) process.kill(p, "SIGKILL");
    }
  }, 25_000);

  it("serve stops on Ctrl-C even while a client holds a half-sent request", async () => {
    const { dir } = page("# Served\n");
    const { child, url, exited } = await startServe(dir);
    const u = new URL(url);
    const socket = connect(Number(u.port), u.hostname);
    try {
      await new Promise((r) => socket.once("connect", r));
      socket.write("GET /page.html HTTP/1.1\r\nHost: x\r\n"); // never finished
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGINT");
      expect(await within(3000, exited)).toBe(0);
    } finally {
      socket.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  }, 20_000);

  it("a port() name Lectern cannot see before the run (an alias of port) is an invalid page: exit 2 with file:line", async () => {
    const { path } = page(ts("name=alias", 'import { port } from "lectern";\nconst p = port;\nconsole.log(p("zzz"));'));
    const { code, stderr } = await lectern(["run", path, "--cache", cacheDir]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/page\.md:[23]:/);
  }, 20_000);

  it("stdin= lines are echoed into the transcript also when the program reads stdin itself", async () => {
    const code = 'import readline from "node:readline";\nfor await (const line of readline.createInterface({ input: process.stdin })) console.log("got " + line);';
    const { path } = page(ts('name=rl stdin="alpha\\nbeta"', code));
    const { stdout } = await lectern(["run", path, "--json", "--cache", cacheDir]);
    const output = JSON.parse(stdout).pages[0].cells[0].output as string;
    const lines = output.split("\n");
    expect(lines).toContain("alpha");
    expect(lines).toContain("beta");
    expect(lines.indexOf("alpha")).toBeLessThan(lines.indexOf("got alpha"));
  }, 20_000);

  it("a published page edited behind Lectern's back is written again, by a plain and by a --frozen build", async () => {
    const dir = tmp("lectern-hostile-");
    writeFileSync(join(dir, "a.md"), "# A\n\n" + ts("name=genuine", 'console.log("genuine");'));
    const build = (...flags: string[]) => lectern(["build", "a.md", "--cache", join(dir, ".lectern"), ...flags], dir);
    expect((await build()).code).toBe(0);
    const page = join(dir, "site", "a.html");
    const written = readFileSync(page, "utf8");
    for (const flags of [[], ["--frozen"]]) {
      writeFileSync(page, written.replaceAll("genuine", "FORGED"));
      expect((await build(...flags)).code).toBe(0);
      const html = readFileSync(page, "utf8");
      expect(html).not.toContain("FORGED");
      expect(html).toContain("genuine");
    }
  }, 40_000);

  it("a compiled cell or preload changed in the cache is compiled again, never run", async () => {
    const dir = tmp("lectern-hostile-");
    writeFileSync(join(dir, "a.md"), ts("name=genuine", 'console.log("genuine");'));
    const cache = join(dir, ".lectern");
    const build = (...flags: string[]) => lectern(["build", "a.md", "--cache", cache, "--json", ...flags], dir);
    expect((await build()).code).toBe(0);
    const trojan = 'console.log("FORGED");\n';
    for (const sub of ["compiled", "support"]) {
      for (const f of readdirSync(join(cache, sub)).filter((f) => /\.(mjs|cjs)$/.test(f))) writeFileSync(join(cache, sub, f), trojan);
    }
    const rerun = await build("--rerun");
    const cell = JSON.parse(rerun.stdout).pages[0].cells[0];
    expect(cell).toMatchObject({ status: "passed", output: "genuine\n", cached: false });
    expect(readFileSync(join(dir, "site", "a.html"), "utf8")).not.toContain("FORGED");
  }, 40_000);
});
