// Whatever a cell does, Lectern keeps going, reports it, and leaves nothing behind.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { probeSandbox } from "../runner/execute/bwrap.ts";
import { allGone, cell, runSource, tmp, ts } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "runner", "bin.mjs");
const CGROUPS = existsSync("/sys/fs/cgroup/pids/cgroup.procs");
// Cells run in bubblewrap here (unless LECTERN_SANDBOX=off): their pids are their namespace's.
const SANDBOXED = (await probeSandbox()).bwrap !== null;

describe("processes", () => {
  it("ends a process that left the cell's process group with setsid", async () => {
    const r = await runSource(
      ts("name=escape", `import { spawn } from "node:child_process";\nconst c = spawn("setsid", ["sleep", "30.0815"], { detached: true, stdio: "ignore" });\nc.unref();\nconsole.log(c.pid);`),
    );
    const pid = Number(cell(r, "escape").output.trim());
    expect(pid).toBeGreaterThan(0);
    // Guaranteed where the machine gives Lectern cgroups or a sandbox (its PID namespace ends with
    // the cell); README: what is and is not guaranteed.
    if (CGROUPS || SANDBOXED) expect(await allGone("sleep 30.0815")).toBe(true);
  });

  it("caps how many processes a cell may start, and ends them all", async () => {
    const r = await runSource(
      ts(
        "name=forks timeout=30",
        `import { spawn } from "node:child_process";\nlet started = 0, refused = "";\nfor (let i = 0; i < 400 && !refused; i++) {\n  const c = spawn("sleep", ["30"], { stdio: "ignore" });\n  c.on("error", (e: any) => { refused = e.code; });\n  c.unref();\n  if (c.pid) started++;\n  await new Promise((r) => setImmediate(r));\n}\nconsole.log(started < 400 ? "capped" : "not capped", refused);`,
      ),
    );
    const forks = cell(r, "forks");
    expect(forks.status).toBe("passed");
    if (CGROUPS) expect(forks.output).toBe("capped EAGAIN\n");
  }, 45_000);

  it("stops every cell and still reports when Lectern gets Ctrl-C", async () => {
    const dir = tmp();
    const page = join(dir, "page.md");
    const pidFile = join(dir, "slow.pid");
    writeFileSync(
      page,
      ts("name=quick", 'console.log("done quickly");') +
        ts("name=slow timeout=60", 'import { writeFileSync } from "node:fs";\nprocess.title = "lectern-slow-0815";\nconsole.log(process.pid);\nwriteFileSync("slow.pid", String(process.pid));\nsetInterval(() => {}, 1000);'),
    );
    // The page's folder is read-only to its cells unless --allow-write says otherwise.
    const child = spawn(process.execPath, [BIN, "run", page, "--cache", join(dir, "cache"), `--allow-write=${dir}`], { cwd: ROOT });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    // Ctrl-C once the slow cell is surely running and the quick one has finished.
    for (let i = 0; i < 200 && !(existsSync(pidFile) && /done quickly/.test(stdout)); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    const code = await closed;
    expect(code).toBe(1);
    expect(stdout).toMatch(/^✓ quick \(passed, exit 0, /m);
    expect(stdout).toMatch(/^✗ slow \(failed, signal SIGTERM, .*\n  interrupted\n/m);
    expect(stdout.trimEnd().split("\n").at(-1)).toMatch(/^1 passed, 1 failed /);
    expect(Number(/│ (\d+)/.exec(stdout)![1])).toBeGreaterThan(0);
    expect(await allGone("lectern-slow-0815")).toBe(true);
  }, 30_000);
});

describe("output", () => {
  it("keeps all of 3 MB printed right before process.exit() (under a 4 MiB cap)", async () => {
    const r = await runSource(ts("name=big", 'process.stdout.write("x".repeat(2_999_999) + "!");\nprocess.exit(0);'), { maxOutput: 4 << 20 });
    const big = cell(r, "big");
    expect(big.status).toBe("passed");
    expect(big.output.length).toBe(3_000_000);
    expect(big.output.endsWith("x!")).toBe(true);
  });

  it("decodes invalid UTF-8 as U+FFFD, the same way every run", async () => {
    const code = 'process.stdout.write(Buffer.from([0x61, 0xff, 0xfe, 0x62, 0xe2, 0x82]));';
    const [a, b] = await Promise.all([runSource(ts("name=bad", code)), runSource(ts("name=bad", code))]);
    expect(cell(a, "bad").output).toBe("a\uFFFD\uFFFDb\uFFFD");
    expect(cell(b, "bad").output).toBe(cell(a, "bad").output);
  });
});

describe("servers", () => {
  it("makes clients wait for a server that listens late", async () => {
    const r = await runSource(
      ts("name=late server", 'import net from "node:net";\nimport { port } from "lectern";\nsetTimeout(() => net.createServer((s) => s.end("late but here")).listen(port("tcp"), "127.0.0.1"), 700);') +
        ts("name=client", 'import net from "node:net";\nimport { port } from "lectern";\nnet.connect(port("tcp"), "127.0.0.1").on("data", (d) => console.log(String(d)));'),
    );
    expect(cell(r, "client")).toMatchObject({ status: "passed", output: "late but here\n" });
    expect(cell(r, "late").status).toBe("passed");
  });

  it("says where a server listened when it was not on its named port", async () => {
    const r = await runSource(
      ts("name=fixed server timeout=1", 'import net from "node:net";\nimport { port } from "lectern";\nport("tcp");\nnet.createServer().listen(0, "127.0.0.1");') +
        ts("name=client", 'import { port } from "lectern";\nport("tcp");'),
    );
    expect(cell(r, "fixed").reason).toMatch(/^did not listen within 1 s: it listened on \d+, not on its port tcp=\d+$/);
  });

  it("times out a server that never listens, and says so for its clients", async () => {
    const r = await runSource(
      ts("name=mute server timeout=1", 'import { port } from "lectern";\nport("tcp");\nsetInterval(() => {}, 1000);') +
        ts("name=client", 'import { port } from "lectern";\nconsole.log(port("tcp"));'),
    );
    expect(cell(r, "mute")).toMatchObject({ status: "timeout", reason: "did not listen within 1 s" });
    expect(cell(r, "client")).toMatchObject({ status: "failed", reason: 'not started: server "mute" ended before it was ready (did not listen within 1 s)' });
  });
});

describe("memory", () => {
  it("ends a cell that allocates without end, not the machine, and the page goes on", async () => {
    const r = await runSource(
      ts("name=hog timeout=30", "const keep: number[][] = [];\nfor (;;) keep.push(new Array(1 << 20).fill(1));") + ts("name=after needs=hog", 'console.log("still here");'),
    );
    const hog = cell(r, "hog");
    const seen = JSON.stringify({ ...hog, output: hog.output.slice(0, 500), chunks: undefined, trace: undefined });
    expect(hog.status, seen).toBe("failed");
    // The kernel at the memory cgroup's limit or V8 at its heap limit: the same words either way.
    expect(hog.reason, seen).toBe("stopped: ran out of memory (a cell may use 512 MiB)");
    expect(cell(r, "after").output).toBe("still here\n");
  }, 40_000);

  it("says the same when V8's heap limit stops the cell before the kernel does", async () => {
    // Node sizes its heap from the memory cgroup it starts in. Start Lectern, and so each cell
    // until Lectern moves it into a group of its own, inside a 512 MiB group: V8 then aborts at
    // about half of it. Without memory cgroups, Lectern's own --max-old-space-size does the same.
    const dir = tmp();
    const page = join(dir, "page.md");
    writeFileSync(page, ts("name=hog timeout=30", "const keep: number[][] = [];\nfor (;;) keep.push(new Array(1 << 20).fill(1));"));
    const mine = readFileSync("/proc/self/cgroup", "utf8").match(/^\d+:memory:(.*)$/m)?.[1];
    const group = mine !== undefined ? join("/sys/fs/cgroup/memory", mine, `lectern-test-${process.pid}`) : null;
    let wrap = "";
    try {
      if (group) {
        mkdirSync(group);
        writeFileSync(join(group, "memory.limit_in_bytes"), String(512 * 1024 * 1024));
        wrap = `echo $$ > ${group}/cgroup.procs && `;
      }
    } catch {
      // Not ours to make groups in: the flag path below is what this machine runs.
    }
    try {
      const stdout = await new Promise<string>((resolve) =>
        execFile("sh", ["-c", `${wrap}exec "$0" "$@"`, process.execPath, BIN, "run", page, "--json", "--cache", join(dir, "cache")], { cwd: ROOT, timeout: 60_000 }, (_err, out) =>
          resolve(out),
        ),
      );
      const hog = JSON.parse(stdout).pages[0].cells[0];
      // Where this test may not make the group, Lectern may still cap the cell its own way.
      // A sandboxed cell cannot see the cgroup file system, so node does not size its heap from it:
      // the kernel stops it at the group's limit instead, with the same words.
      if (!SANDBOXED && (wrap !== "" || !existsSync("/sys/fs/cgroup/memory/cgroup.procs"))) {
        expect(hog.signal).toBe("SIGABRT");
        expect(hog.output).toContain("JavaScript heap out of memory");
      }
      expect(hog.reason).toBe("stopped: ran out of memory (a cell may use 512 MiB)");
    } finally {
      // Lectern made its "lectern" group and the cell's below ours: the deepest go first.
      if (group && existsSync(group)) for (const d of readdirSync(group, { recursive: true, withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(e.parentPath, e.name)).sort().reverse()) rmdirSync(d);
      if (group && existsSync(group)) rmdirSync(group);
    }
  }, 40_000);
});

describe("stdin", () => {
  it("never hangs or fails on input that is not read, read too early, or absent", async () => {
    const r = await runSource(
      ts('name=early stdin="a\\nb"', "process.exit(0);") +
        ts('name=ignores stdin="x"', 'console.log("no reading");') +
        ts("name=eof", 'import { input } from "lectern";\ntry { await input("? "); } catch (e: any) { console.log(e.code); }') +
        ts('name=big stdin="' + "z".repeat(200_000) + '"', "setTimeout(() => {}, 10);"),
    );
    expect(r.cells.map((c) => [c.name, c.status, c.output])).toEqual([
      ["early", "passed", ""],
      ["ignores", "passed", "no reading\n"],
      ["eof", "passed", "? EOF\n"],
      ["big", "passed", ""],
    ]);
  });
});

describe("permissions", () => {
  it("gives cells a small environment, and more only with --allow-env", async () => {
    const code = 'console.log(Object.keys(process.env).filter((k) => !k.startsWith("LECTERN_PORT")).sort().join(" "));';
    const r = await runSource(ts("name=env", code), { env: { PATH: "/usr/bin:/bin", HOME: "/root" } });
    // In the sandbox, HOME and TMPDIR are the scratch folder and bwrap sets PWD.
    expect(cell(r, "env").output).toBe(SANDBOXED ? "HOME LECTERN PATH PWD TMPDIR\n" : "HOME LECTERN PATH\n");
  });

  it("refuses hosts other than loopback when the guard is on", async () => {
    const connect = (host: string) =>
      `import net from "node:net";\nnet.connect(9, "${host}").on("error", (e: any) => { console.log(e.code, e.message.includes("--allow-net") ? "(guard)" : ""); process.exitCode = 1; }).on("connect", () => console.log("connected"));`;
    // A pinned port keeps the run outside a namespace, so the preload's guard is what answers.
    const r = await runSource(ts("name=far expect=EACCES", connect("0.0.0.0")) + ts("name=near", `import { port } from "lectern";\nport("p");\n` + connect("127.0.0.1").replace("process.exitCode = 1;", "")), {
      pinned: { p: 9 },
    });
    expect(cell(r, "far")).toMatchObject({ status: "passed", output: "EACCES (guard)\n" });
    const udp = await runSource(
      ts("name=udp", 'import dgram from "node:dgram";\nconst s = dgram.createSocket("udp4");\ns.on("error", (e: any) => { console.log(e.code); s.close(); });\ns.connect(53, "0.0.0.0");'),
      { pinned: { p: 9 } },
    );
    expect(cell(udp, "udp").output).toBe("EACCES\n");
    expect(cell(r, "near").output).toBe("ECONNREFUSED \n");
  });

  it("runs a page's cells in a network namespace with only loopback, where the machine allows", async () => {
    const r = await runSource(ts("name=ifaces", 'import os from "node:os";\nconsole.log(Object.keys(os.networkInterfaces()).join(","));'));
    const names = cell(r, "ifaces").output.trim();
    // Without namespaces (not root, no unshare) the guard above is what holds.
    if (process.getuid?.() === 0) expect(names).toBe("lo");
  });
});

describe("many runs at once", () => {
  // --allow-net keeps the runs on the machine's own network, where their ports could collide.
  it("eight Lectern processes on one page never collide on a port", async () => {
    const dir = tmp();
    const page = join(dir, "pairs.md");
    const udp = `import dgram from "node:dgram";\nimport { port } from "lectern";\n`;
    writeFileSync(
      page,
      ts("name=srv server", udp + 'const s = dgram.createSocket("udp4");\ns.on("message", (m, r) => s.send(m, r.port, r.address));\ns.bind(port("udp"), "127.0.0.1");') +
        ts("name=cli", udp + 'const c = dgram.createSocket("udp4");\nc.on("message", (m) => { console.log(String(m)); c.close(); });\nc.send("ping", port("udp"), "127.0.0.1");') +
        ts("name=tsrv server", 'import net from "node:net";\nimport { port } from "lectern";\nnet.createServer((s) => s.end("pong")).listen(port("tcp"), "127.0.0.1");') +
        ts("name=tcli", 'import net from "node:net";\nimport { port } from "lectern";\nnet.connect(port("tcp"), "127.0.0.1").on("data", (d) => console.log(String(d)));'),
    );
    const once = () =>
      new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, [BIN, "run", page, "--json", "--cache", join(dir, "cache"), "--allow-net=127.0.0.1"], { cwd: ROOT, timeout: 60_000 }, (err, stdout) =>
          resolve({ code: err ? Number(err.code) : 0, stdout }),
        ),
      );
    const runs = await Promise.all(Array.from({ length: 8 }, once));
    for (const run of runs) {
      expect(run.code).toBe(0);
      const cells = JSON.parse(run.stdout).pages[0].cells;
      expect(cells.map((c: { output: string }) => c.output)).toEqual(["", "ping\n", "", "pong\n"]);
    }
  }, 60_000);
});
