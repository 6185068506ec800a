// The command line as a user meets it: the real `lectern` binary, its output and exit status.
import { execFile, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cacheDir, tmp } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "runner", "bin.mjs");
const LECTURE = "notebook/lec3-socket-programming.md";

function lectern(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("lectern run", () => {
  it("runs the lecture: every cell as the page says, uppercase replies, a refused connection", async () => {
    const { code, stdout } = await lectern(["run", LECTURE, "--json", "--cache", cacheDir]);
    const doc = JSON.parse(stdout);
    expect(doc.ok).toBe(true);
    expect(code).toBe(0);
    const page = doc.pages[0];
    expect(page.path).toBe(LECTURE);
    const byName = Object.fromEntries(page.cells.map((c: { name: string }) => [c.name, c]));
    for (const name of ["udp-server", "udp-client", "tcp-server", "tcp-client", "refused"]) expect(byName[name].status).toBe("passed");
    expect(Number.isInteger(page.ports.udp) && Number.isInteger(page.ports.tcp)).toBe(true);
    expect(byName["refused"].exitCode).not.toBe(0);
    expect(byName["refused"].output).toContain("ECONNREFUSED");
    // What the client typed comes back in capitals.
    const udpIn = /Input lowercase sentence: (.+)\n/.exec(byName["udp-client"].output)![1]!;
    expect(byName["udp-client"].output).toContain(udpIn.toUpperCase());
    for (const c of page.cells) expect(Object.keys(c)).toEqual(expect.arrayContaining(["name", "line", "status", "exitCode", "durationMs", "output"]));
    expect(Array.isArray(page.trace)).toBe(true);
  }, 60_000);

  it("runs one cell and what it needs: --cell tcp-client starts tcp-server first, then stops it", async () => {
    const { code, stdout } = await lectern(["run", LECTURE, "--cell", "tcp-client", "--json", "--cache", cacheDir]);
    expect(code).toBe(0);
    const cells = JSON.parse(stdout).pages[0].cells;
    expect(cells.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual([
      ["tcp-server", "passed"],
      ["tcp-client", "passed"],
    ]);
    expect(cells[0].signal).toBe("SIGTERM");
  }, 60_000);

  it("prints each cell under its name and a summary when piped", async () => {
    const { code, stdout } = await lectern(["run", LECTURE, "--cell", "refused", "--cache", cacheDir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^✓ refused \\(passed, exit 1, \\d+(\\.\\d+)? (ms|s)\\)  ${LECTURE}:\\d+$`, "m"));
    expect(stdout).toMatch(/ECONNREFUSED/);
    expect(stdout.trimEnd().split("\n").at(-1)).toMatch(/^1 passed, 0 failed \(\d+(\.\d+)? (ms|s)\)$/);
  });

  it("says which cell does not exist", async () => {
    const { code, stderr } = await lectern(["run", LECTURE, "--cell", "nope"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`^lectern: ${LECTURE}: no cell named "nope" \\(its cells: udp-server, `));
  });
});

describe("a server on its own", () => {
  it("keeps serving on a pinned port, shows what it prints as it happens, and stops cleanly on Ctrl-C", async () => {
    const free = await new Promise<number>((resolve) => {
      const s = createSocket("udp4");
      s.bind(0, "127.0.0.1", () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
    const child = spawn(process.execPath, [BIN, "run", LECTURE, "--cell", "udp-server", "--port", `udp=${free}`, "--cache", cacheDir], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    for (let i = 0; i < 200 && !stderr.includes("press Ctrl-C"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toBe(`udp-server is serving on udp=${free}; press Ctrl-C to stop it\n`);
    // Another program, written like the lecture's Python client.
    const client = createSocket("udp4");
    const reply = await new Promise<string>((resolve) => {
      client.on("message", (m) => resolve(String(m)));
      client.send("from another program", free, "127.0.0.1");
    });
    client.close();
    expect(reply).toBe("FROM ANOTHER PROGRAM");
    for (let i = 0; i < 100 && !stdout.includes("from another program"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stdout).toMatch(/^  udp-server │ datagram from 127\.0\.0\.1:\d+: from another program$/m);
    child.kill("SIGINT");
    expect(await closed).toBe(0);
    expect(stdout).toMatch(/^✓ udp-server \(passed, signal SIGTERM, /m);
    // The port is free again.
    await new Promise<void>((resolve, reject) => {
      const s = createSocket("udp4");
      s.once("error", reject);
      s.bind(free, "127.0.0.1", () => s.close(() => resolve()));
    });
  }, 30_000);
});

describe("invalid input", () => {
  it.each([
    [["run", "test/fixtures/pages/invalid-needs.md"], 'lectern: test/fixtures/pages/invalid-needs.md:5: cell "client" needs "server", which this page does not have (its cells: client) [E_NEEDS_UNKNOWN]\n'],
    [["list", "test/fixtures/pages/invalid-attr.md"], 'lectern: test/fixtures/pages/invalid-attr.md:9: unknown attribute "colour": a cell takes name, server, needs, with, stdin, expect, exit, timeout, skip, ready, nocheck, exercise, solution, host [E_ATTR_UNKNOWN]\n'],
    [["run", "test/fixtures/pages/missing.md"], "lectern: test/fixtures/pages/missing.md: no such page or folder [E_NO_FILE]\n"],
  ])("lectern %j exits 2 with file:line", async (args, message) => {
    const { code, stderr, stdout } = await lectern(args);
    expect(stderr).toBe(message);
    expect(stdout).toBe("");
    expect(code).toBe(2);
  });

  it("rejects bad usage with exit 2", async () => {
    const { code, stderr } = await lectern(["run", LECTURE, "--timeout", "soon"]);
    expect(code).toBe(2);
    expect(stderr.split("\n")[0]).toBe('lectern: --timeout takes a number above 0, not "soon"');
    expect((await lectern(["frobnicate"])).stderr.split("\n")[0]).toBe('lectern: unknown command "frobnicate"; run `lectern help` for the commands');
  });

  it("writes nothing when one page of a build is invalid", async () => {
    const out = join(tmp(), "site");
    const { code, stderr } = await lectern(["build", LECTURE, "test/fixtures/pages/invalid-needs.md", "--out", out, "--cache", cacheDir]);
    expect(code).toBe(2);
    expect(stderr).toContain("invalid-needs.md:5:");
    expect(existsSync(out)).toBe(false);
  });
});

describe("lectern list", () => {
  it("lists the cells with their lines, languages, needs and ports", async () => {
    const { code, stdout } = await lectern(["list", LECTURE, "--json"]);
    expect(code).toBe(0);
    const doc = JSON.parse(stdout);
    expect(doc.path).toBe(LECTURE);
    const client = doc.cells.find((c: { name: string }) => c.name === "tcp-client");
    expect(client).toMatchObject({ lang: "ts", server: false, needs: ["tcp-server"], ports: ["tcp"] });
    const source = readFileSync(join(ROOT, LECTURE), "utf8").split("\n");
    expect(source[client.line - 1]).toMatch(/^\s*```+ts .*name=tcp-client/);
  });
});

describe("lectern build", () => {
  it("writes again only the pages whose inputs changed, and any that went missing", async () => {
    const dir = tmp();
    const a = join(dir, "a.md");
    const b = join(dir, "b.md");
    writeFileSync(a, "# A\n\n```ts name=x\nconsole.log('a');\n```\n");
    writeFileSync(b, "# B\n\n```ts name=y\nconsole.log('b');\n```\n");
    const out = join(dir, "site");
    const build = () => lectern(["build", dir, "--out", out, "--cache", join(dir, "cache")]);
    expect((await build()).code).toBe(0);
    const stamp = (f: string) => statSync(join(out, f)).mtimeMs;
    const [aTime, bTime] = [stamp("a.html"), stamp("b.html")];
    await new Promise((r) => setTimeout(r, 20));
    // The title of b changes: b is written again, and so is a, whose "next" link names b.
    writeFileSync(b, "# Bee\n\n```ts name=y\nconsole.log('b');\n```\n");
    expect((await build()).code).toBe(0);
    expect(stamp("b.html")).toBeGreaterThan(bTime);
    expect(stamp("a.html")).toBeGreaterThan(aTime);
    expect(readFileSync(join(out, "b.html"), "utf8")).toContain("<title>Bee · Lectern</title>");
    const [a2, b2] = [stamp("a.html"), stamp("b.html")];
    await new Promise((r) => setTimeout(r, 20));
    rmSync(join(out, "a.html"));
    expect((await build()).code).toBe(0);
    expect(existsSync(join(out, "a.html"))).toBe(true);
    expect(stamp("b.html")).toBe(b2);
    expect(stamp("a.html")).toBeGreaterThan(a2);
  }, 60_000);

  it("publishes the lecture with every cell's real output under it", async () => {
    const out = join(tmp(), "site");
    const cache = tmp();
    const { code, stdout } = await lectern(["build", LECTURE, "--out", out, "--cache", cache, "--json"]);
    expect(code).toBe(0);
    const doc = JSON.parse(stdout);
    expect(doc.pages[0].cells.every((c: { cached: boolean }) => c.cached === false)).toBe(true);
    // The second build publishes the same results without running anything.
    const again = await lectern(["build", LECTURE, "--out", out, "--cache", cache, "--json", "--frozen"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).pages[0].cells.map((c: { cached: boolean; output: string }) => [c.cached, c.output])).toEqual(
      doc.pages[0].cells.map((c: { output: string }) => [true, c.output]),
    );
    const index = readFileSync(join(out, "index.html"), "utf8");
    expect(index).toContain('href="lec3-socket-programming.html"');
    const html = readFileSync(join(out, "lec3-socket-programming.html"), "utf8");
    const client = doc.pages[0].cells.find((c: { name: string }) => c.name === "udp-client");
    const reply = client.output.trim().split("\n").find((l: string) => /[A-Z]{4,}/.test(l));
    expect(html).toContain('id="cell-udp-client"');
    expect(html).toContain(reply.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;"));
  }, 60_000);
});

describe("the lectern command's bundle", () => {
  it("is built again when any file it bundles changes, cells/wire.ts included", async () => {
    // A copy of the sources, so the test may edit them; node_modules is shared.
    const dir = tmp();
    for (const part of ["runner", "cells", "package.json"]) cpSync(join(ROOT, part), join(dir, part), { recursive: true, filter: (f) => !/\.cli-/.test(f) });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    writeFileSync(join(dir, "p.md"), "```ts name=a\nconsole.log(1)\n```\n");
    const bundles = () => readdirSync(join(dir, "runner")).filter((f) => /^\.cli-[0-9a-f]{16}\.mjs$/.test(f));
    const list = () => new Promise<string>((resolve, reject) => execFile(process.execPath, [join(dir, "runner", "bin.mjs"), "list", "p.md"], { cwd: dir }, (err, out) => (err ? reject(err) : resolve(out))));
    expect(await list()).toContain("a");
    const [first] = bundles();
    expect(await list()).toContain("a");
    expect(bundles()).toEqual([first]);
    writeFileSync(join(dir, "cells", "wire.ts"), readFileSync(join(dir, "cells", "wire.ts"), "utf8") + "\n// changed\n");
    expect(await list()).toContain("a");
    expect(bundles()).toHaveLength(1);
    expect(bundles()[0]).not.toBe(first);
    // Two bundle builds and three starts of the CLI: more than vitest's 5 s on a loaded machine.
  }, 30_000);
});
