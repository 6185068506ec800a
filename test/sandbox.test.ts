// The sandbox (issue 15): each attack of the hostile pass, as a page, through the real command,
// as root and as an unprivileged user (nobody); and the fallback without bubblewrap.
import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { probeSandbox } from "../runner/execute/bwrap.ts";
import { createSandbox } from "../runner/execute/sandbox.ts";
import { allGone, tmp, ts } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "runner", "bin.mjs");
const ROOTED = process.getuid?.() === 0;
const SANDBOX = (await probeSandbox()).bwrap !== null;

/** Can nobody make a sandbox here? Only the kernel (user namespaces off) or a missing tool says no. */
function nobodyCan(): string | null {
  if (!ROOTED) return "the tests are not running as root, so they cannot switch to nobody";
  try {
    execFileSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "bwrap", "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "--", "true"], { stdio: "pipe" });
    return null;
  } catch (err) {
    return `the kernel refuses nobody a user namespace: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}
const NOBODY_SKIP = nobodyCan();
if (NOBODY_SKIP) console.warn(`sandbox tests as nobody skipped: ${NOBODY_SKIP}`);

type Out = { code: number; stdout: string; stderr: string };
type Cell = { name: string; status: string; output: string; reason: string | null; cached?: boolean };

/** `lectern ARGS` in `cwd`, as root or as nobody, with a small environment plus `env`. */
function lectern(args: string[], cwd: string, user: "root" | "nobody", env: Record<string, string> = {}): Promise<Out> {
  const argv = user === "nobody" ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, BIN, ...args] : [process.execPath, BIN, ...args];
  const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, LANG: "C.UTF-8" };
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { cwd, env: { ...base, ...env }, timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A project folder anyone may write (nobody runs in it too), with these pages. */
function project(pages: Record<string, string>): string {
  const dir = tmp("lectern-sandbox-");
  chmodSync(dir, 0o777);
  for (const [name, source] of Object.entries(pages)) writeFileSync(join(dir, name), source);
  return dir;
}

const cellsOf = (out: Out): Cell[] => {
  try {
    return JSON.parse(out.stdout).pages.flatMap((p: { cells: Cell[] }) => p.cells);
  } catch {
    throw new Error(`not a JSON report (exit ${out.code}):\n${out.stdout}\n${out.stderr}`);
  }
};
const cellOf = (out: Out, name: string) => cellsOf(out).find((c) => c.name === name)!;
const sh = (info: string, code: string) => "```bash " + info + "\n" + code.trim() + "\n```\n\n";

for (const user of ["root", "nobody"] as const) {
  const skip = !SANDBOX ? "bubblewrap is not usable here (see the fallback tests)" : user === "nobody" ? NOBODY_SKIP : null;
  describe.skipIf(skip !== null)(`the sandbox, as ${user}`, () => {
    it("1. a cell cannot read Lectern's environment, and shell cells run no ~/.bashrc", async () => {
      const environ = `import { readdirSync, readFileSync } from "node:fs";
const has = (pid: string) => { try { return readFileSync("/proc/" + pid + "/environ", "utf8").includes("xyz-secret"); } catch (e: any) { return e.code; } };
console.log("parent:", has(String(process.ppid)));
console.log("anywhere:", readdirSync("/proc").filter((p) => /^\\d+$/.test(p) && has(p) === true).length);`;
      const shell = `grep -l xyz-secret /proc/[0-9]*/environ 2>/dev/null | wc -l
echo "rc: \${FROM_BASHRC:-none}"`;
      const dir = project({ "p.md": ts("name=environ", environ) + sh("name=grandparent", shell) });
      writeFileSync(join(dir, ".bashrc"), 'export FROM_BASHRC=yes\necho "BASHRC RAN"\n');
      writeFileSync(join(dir, ".profile"), 'echo "PROFILE RAN"\n');
      const out = await lectern(["run", "p.md", "--json"], dir, user, { SECRET_TOKEN: "xyz-secret" });
      expect(out.code, out.stderr).toBe(0);
      expect(cellOf(out, "environ").output).toBe("parent: false\nanywhere: 0\n");
      expect(cellOf(out, "grandparent").output).toBe("0\nrc: none\n");
      expect(out.stderr).not.toContain("warning");
    }, 60_000);

    it("2. a cell cannot enter another network namespace (Lectern's, the machine's)", async () => {
      const hostIfaces = Object.keys(networkInterfaces()).filter((n) => n !== "lo");
      const leave = `for ns in /proc/${process.pid}/ns/net /proc/1/ns/net /proc/[0-9]*/ns/net; do nsenter --net=$ns ip -o link 2>/dev/null; done | cut -d: -f2 | sort -u | tr -d ' \\n'; echo "|"
ip -o link | cut -d: -f2 | tr -d ' '`;
      const dir = project({ "p.md": sh("name=leave", leave) });
      const out = await lectern(["run", "p.md", "--json"], dir, user);
      const output = cellOf(out, "leave").output;
      // Entering fails everywhere (no capabilities), so the first line is empty; its own has only lo.
      expect(output).toBe("|\nlo\n");
      for (const name of hostIfaces) expect(output).not.toContain(name);
    }, 60_000);

    it("3. a cell cannot write the cgroup file system, and what it starts ends with it", async () => {
      const escape = `for f in /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/cgroup.procs; do
  if (echo $$ > $f) 2>/dev/null; then echo "escaped: $f"; else echo refused; fi
done
setsid sleep 30.4711 > /dev/null 2>&1 &
echo started`;
      const dir = project({ "p.md": sh("name=escape", escape) });
      const out = await lectern(["run", "p.md", "--json"], dir, user);
      expect(cellOf(out, "escape").output).toBe("refused\nrefused\nrefused\nrefused\nstarted\n");
      expect(await allGone("sleep 30.4711")).toBe(true);
    }, 60_000);

    it("4. a cell of page B cannot rewrite page A's results, compiled cells, the preload or the site", async () => {
      const forge = `import { appendFileSync, readdirSync } from "node:fs";
let forged = 0;
for (const d of [".lectern/results", ".lectern/compiled", ".lectern/support", ".lectern", "site"]) {
  let files: string[] = [];
  try { files = readdirSync(d); } catch {}
  for (const f of files) { try { appendFileSync(d + "/" + f, "FORGED"); forged++; } catch {} }
}
console.log("forged", forged);`;
      const dir = project({ "a.md": ts("name=genuine", 'console.log("genuine");'), "b.md": ts("name=forge", forge) });
      const first = await lectern(["build", "a.md", "--json"], dir, user);
      expect(cellOf(first, "genuine").output).toBe("genuine\n");
      const attack = await lectern(["run", "b.md", "--json"], dir, user);
      expect(cellOf(attack, "forge").output).toBe("forged 0\n");
      const again = await lectern(["build", "a.md", "b.md", "--json"], dir, user);
      expect(cellOf(again, "genuine")).toMatchObject({ output: "genuine\n", cached: true });
      expect(readFileSync(join(dir, "site", "a.html"), "utf8")).not.toContain("FORGED");
      const rerun = await lectern(["build", "a.md", "--rerun", "--json"], dir, user);
      expect(cellOf(rerun, "genuine")).toMatchObject({ output: "genuine\n", cached: false, status: "passed" });
    }, 90_000);

    it("6. a cell cannot squat a server's port: it cannot learn the number before the server binds", async () => {
      // A server that takes its time to start (loading data, say): the squatter has every chance.
      const server = `import net from "node:net";\nimport { port } from "lectern";\nsetTimeout(() => net.createServer((c) => c.end("served\\n")).listen(port("tcp"), "127.0.0.1"), 700);`;
      const squat = `import { readdirSync } from "node:fs";
import net from "node:net";
// Every number it can find (Lectern's lock files, its environment), bound before the server does.
const numbers = new Set<number>();
for (const d of readdirSync("/tmp").filter((d) => d.startsWith("lectern-ports-"))) for (const f of readdirSync("/tmp/" + d)) numbers.add(Number(f));
for (const [k, v] of Object.entries(process.env)) if (k.startsWith("LECTERN_PORT_")) numbers.add(Number(v));
let held = 0;
for (const n of numbers) await new Promise<void>((r) => net.createServer().listen(n, "127.0.0.1", () => { held++; r(); }).on("error", () => r()));
console.log("squatted", held);
await new Promise((r) => setTimeout(r, 1500));
process.exit(0);`;
      const client = `import net from "node:net";\nimport { port } from "lectern";\nnet.connect(port("tcp"), "127.0.0.1").on("data", (d) => process.stdout.write(String(d)));`;
      const dir = project({ "p.md": ts("name=squatter", squat) + ts("name=server server", server) + ts("name=client", client) });
      const out = await lectern(["run", "p.md", "--json"], dir, user);
      expect(cellOf(out, "squatter").output).toBe("squatted 0\n");
      expect(cellOf(out, "server").status).toBe("passed");
      expect(cellOf(out, "client").output).toBe("served\n");
      expect(out.code).toBe(0);
    }, 60_000);

    // As root only: the holder and the namespace are the same for nobody, and the squatter's
    // 28,000 sockets take seconds.
    it.runIf(user === "root")("6. a cell that binds every port it can before the server starts does not get the server's: it is held in the page's namespace", async () => {
      // Two processes, since one may hold fewer sockets than the range has numbers.
      const squat = `import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\\s+/).map(Number);
const grab = \`const net = require("node:net"); const [a, b] = process.argv.slice(1).map(Number); let left = b - a + 1;
for (let p = a; p <= b; p++) net.createServer().on("error", () => --left || console.log("half")).listen(p, "127.0.0.1", () => --left || console.log("half"));\`;
const mid = Math.floor((lo + hi) / 2);
let halves = 0;
for (const [a, b] of [[lo, mid], [mid + 1, hi]]) {
  const child = spawn(process.execPath, ["-e", grab, String(a), String(b)], { stdio: ["ignore", "pipe", "inherit"] });
  child.stdout.on("data", () => ++halves === 2 && console.log("squatted"));
}`;
      const server = `import net from "node:net";\nimport { port } from "lectern";\nnet.createServer((c) => c.end("served\\n")).listen(port("tcp"), "127.0.0.1");`;
      // The squatter holds every ephemeral port too: the client names one of its own.
      const client = `import net from "node:net";\nimport { port } from "lectern";\nnet.connect({ port: port("tcp"), host: "127.0.0.1", localPort: 20000 }).on("data", (d) => process.stdout.write(String(d)));`;
      const dir = project({ "p.md": ts("name=squatter server ready=/squatted/", squat) + ts("name=server server needs=squatter", server) + ts("name=client", client) });
      const out = await lectern(["run", "p.md", "--json"], dir, user);
      expect(cellOf(out, "squatter").output).toBe("squatted\n");
      expect(cellOf(out, "server").status).toBe("passed");
      expect(cellOf(out, "client").output).toBe("served\n");
      expect(out.code).toBe(0);
    }, 60_000);

    it("the page's folder is read-only, the scratch folder writable; --allow-write and --allow-read open more", async () => {
      const other = tmp("lectern-sandbox-other-");
      chmodSync(other, 0o777);
      writeFileSync(join(other, "data.txt"), "outside\n");
      const cell = `import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
const attempt = (f: () => unknown) => { try { f(); return "ok"; } catch (e: any) { return e.code; } };
console.log("page:", attempt(() => writeFileSync("out.txt", "x")), attempt(() => readFileSync("p.md")));
console.log("scratch:", os.tmpdir() === process.env.HOME, attempt(() => writeFileSync(os.tmpdir() + "/x", "x")));
console.log("other:", attempt(() => readFileSync(${JSON.stringify(join(other, "data.txt"))})), attempt(() => writeFileSync(${JSON.stringify(join(other, "w.txt"))}, "x")));`;
      const dir = project({ "p.md": ts("name=fs", cell) });
      const plain = await lectern(["run", "p.md", "--json"], dir, user);
      expect(cellOf(plain, "fs").output).toBe("page: EROFS ok\nscratch: true ok\nother: ENOENT ENOENT\n");
      const read = await lectern(["run", "p.md", "--json", `--allow-read=${other}`], dir, user);
      expect(cellOf(read, "fs").output).toBe("page: EROFS ok\nscratch: true ok\nother: ok EROFS\n");
      const write = await lectern(["run", "p.md", "--json", `--allow-write=${other},${dir}`], dir, user);
      expect(cellOf(write, "fs").output).toBe("page: ok ok\nscratch: true ok\nother: ok ok\n");
      const bad = await lectern(["run", "p.md", "--allow-read=/no/such/folder"], dir, user);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--allow-read: no such file or folder: /no/such/folder");
    }, 90_000);
  });
}

describe("the side channel", () => {
  // Bounded with or without bubblewrap: the runner reads it either way.
  for (const mode of ["sandbox", "fallback"] as const) {
    it(`5. a cell flooding fd 3 is stopped with a clear reason, and Lectern goes on (${mode})`, async () => {
      const flood = `import { writeSync } from "node:fs";
const big = JSON.stringify({ type: "input", text: "x".repeat(1 << 20) }) + "\\n";
for (let i = 0; i < 300; i++) writeSync(3, big);
console.log("not stopped");`;
      const dir = project({ "p.md": ts("name=flood", flood) + ts("name=after needs=flood", 'console.log("after");') });
      const out = await lectern(["run", "p.md", "--json"], dir, "root", mode === "fallback" ? { LECTERN_SANDBOX: "off" } : {});
      expect(out.code).toBe(1);
      const flooded = cellOf(out, "flood");
      expect(flooded.status).toBe("failed");
      expect(flooded.reason).toBe("stopped: sent a message longer than 65536 bytes on Lectern's side channel (fd 3)");
      expect(flooded.output).not.toContain("not stopped");
      expect(cellOf(out, "after").output).toBe("after\n");
    }, 60_000);
  }
});

describe("without bubblewrap", () => {
  it("runs cells as before and says once per run which protections are missing", async () => {
    const dir = project({ "a.md": ts("name=a", 'console.log("a");'), "b.md": ts("name=b", 'console.log("b");') });
    mkdirSync(join(dir, "site"));
    const out = await lectern(["build", "a.md", "b.md", "--json"], dir, "root", { LECTERN_SANDBOX: "off" });
    expect(out.code).toBe(0);
    expect(cellsOf(out).map((c) => c.output)).toEqual(["a\n", "b\n"]);
    const warnings = out.stderr.split("\n").filter((l) => l.includes("warning"));
    expect(warnings).toEqual([
      "lectern: warning: cells run without a sandbox (LECTERN_SANDBOX=off): cells can read the environment of other processes, write the cache, the site and any file you can, and leave the network namespace and cgroups. --require-sandbox makes this an error",
    ]);
  }, 60_000);

  it("--require-sandbox makes it an error: exit 2, nothing run", async () => {
    const dir = project({ "p.md": ts("name=a", 'console.log("ran");') });
    const out = await lectern(["run", "p.md", "--require-sandbox"], dir, "root", { LECTERN_SANDBOX: "off" });
    expect(out.code).toBe(2);
    expect(out.stdout).not.toContain("ran");
    expect(out.stderr).toBe(
      "lectern: --require-sandbox: cells cannot be sandboxed on this machine (LECTERN_SANDBOX=off); install bubblewrap (Debian: apt-get install bubblewrap) or run without --require-sandbox [E_SANDBOX]\n",
    );
  }, 60_000);

  it("says why when bwrap is not on PATH", async () => {
    // A PATH with node and the tools Lectern uses, but no bwrap.
    const bin = tmp("lectern-nobwrap-");
    for (const tool of ["env", "nsenter", "unshare", "setpriv", "sh", "ip", "sleep"]) {
      try {
        execFileSync("ln", ["-s", execFileSync("sh", ["-c", `command -v ${tool}`]).toString().trim(), join(bin, tool)]);
      } catch {
        // Not installed: Lectern does without it.
      }
    }
    const dir = project({ "p.md": ts("name=a", 'console.log("ran");') });
    const out = await lectern(["run", "p.md", "--require-sandbox"], dir, "root", { PATH: bin });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("(bwrap (Debian's bubblewrap) was not found on PATH)");
  }, 60_000);
});

describe("the page's network namespace", () => {
  it("runs a helper of Lectern's (a packet capture, say) inside it", async () => {
    const sandbox = await createSandbox({ isolateNet: true, bwrap: null, capture: false });
    try {
      const wrapped = sandbox.inNet("ip", ["-o", "link"]);
      const child = spawn(wrapped.command, wrapped.args, { stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      await new Promise((r) => child.once("close", r));
      const names = out.split("\n").filter(Boolean).map((l) => l.split(":")[1]!.trim());
      // Where this machine gives Lectern no namespace, the helper runs in Lectern's own.
      if (sandbox.net === "namespace") expect(names).toEqual(["lo"]);
      else expect(names).toContain("lo");
    } finally {
      sandbox.close();
    }
  });
});
