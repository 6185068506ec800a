// A teacher's day (issue 16), through the real `lectern` command: help for every command,
// lints before running, why a cell timed out or failed to listen, output that differs from the
// page, settings in front matter, clients against an outside server, and a course in shards.
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { cpSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../runner/cli/options.ts";
import { cacheDir, tmp, ts } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "runner", "bin.mjs");
const LECTURE = "notebook/lec3-socket-programming.md";
const VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;

function lectern(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A page in a folder of its own; returns its path. */
function page(source: string, name = "page.md", dir = tmp()): string {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
}

const TCP_SERVER = ts("name=web server", `import net from "node:net";\nimport { port } from "lectern";\nnet.createServer((c) => c.end("hi\\n")).listen(port("http"), "127.0.0.1");`);
const client = (name: string, portName: string) =>
  ts(`name=${name}`, `import net from "node:net";\nimport { port } from "lectern";\nnet.connect(port("${portName}"), "127.0.0.1").pipe(process.stdout);`);

describe("help", () => {
  it("every command takes --help: usage, each flag of the table, one example; exit 0, same as `lectern help COMMAND`", async () => {
    for (const name of Object.keys(COMMANDS) as (keyof typeof COMMANDS)[]) {
      const { code, stdout, stderr } = await lectern([name, "--help"]);
      expect([code, stderr]).toEqual([0, ""]);
      expect(stdout.split("\n")[0]).toBe(`lectern ${name}: ${COMMANDS[name].summary}`);
      expect(stdout).toContain(`\nUsage: lectern ${name} ${COMMANDS[name].args} [options]\n`);
      for (const flag of Object.keys(COMMANDS[name].flags)) expect(stdout).toMatch(new RegExp(`^  --${flag}\\b`, "m"));
      expect(stdout).toContain(`\nExample:\n  ${COMMANDS[name].example}\n`);
      if (name === "run" || name === "check") expect((await lectern(["help", name])).stdout).toBe(stdout);
    }
    const run = await lectern(["run", "-h"]);
    expect(run.stdout).toContain("  --cell NAME ");
    expect(run.stdout).toContain("  --no-servers ");
  }, 60_000);

  it("`lectern help` lists the commands, `--version` prints the version", async () => {
    const help = await lectern(["help"]);
    expect(help.code).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    expect(await lectern(["--help"])).toEqual(help);
    expect(await lectern(["help", "--help"])).toEqual(help);
    expect(await lectern([])).toEqual({ code: 2, stdout: "", stderr: help.stdout });
    expect(await lectern(["--version"])).toEqual({ code: 0, stdout: `lectern ${VERSION}\n`, stderr: "" });
  }, 30_000);

  it("an unknown option names the command's options, with the closest one; exit 2", async () => {
    const { code, stderr } = await lectern(["run", LECTURE, "--cel", "x"]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      'lectern: unknown option --cel (did you mean "--cell"?); this command takes --cell, --port, --no-servers, --json, --trace, --jobs, --timeout, --cache, --max-output, --allow-net, --allow-env, --allow-read, --allow-write, --require-sandbox, --help\n' +
        "usage: lectern run PAGE [options] (lectern run --help for more)\n",
    );
    expect((await lectern(["list", LECTURE, "--json=yes"])).stderr.split("\n")[0]).toBe("lectern: --json takes no value");
    expect(await lectern(["help", "biuld"])).toEqual({ code: 2, stdout: "", stderr: 'lectern: unknown command "biuld" (did you mean "build"?); run `lectern help` for the commands\n' });
  }, 30_000);
});

describe("lints before running", () => {
  it('a misspelled port name: a warning with "did you mean", the run goes on; check --strict exits 2', async () => {
    const path = page("# Web\n\n" + TCP_SERVER + client("getter", "htpp") + client("fine", "http"));
    const run = await lectern(["run", path, "--cache", cacheDir]);
    expect(run.stderr).toBe(
      `lectern: ${path}:12: warning: cell "getter" uses port "htpp", which no server cell of this page serves, so nobody will answer (did you mean "http"?); if that is the point, say so with expect=ECONNREFUSED (or expect=error)\n`,
    );
    expect(run.code).toBe(1); // the connection is refused: the warning said so before it ran
    const strict = await lectern(["check", "--strict", path]);
    expect(strict.code).toBe(2);
    expect(strict.stdout).toBe(
      `${run.stderr.slice("lectern: ".length)}no errors in 3 cells of 1 page\n1 warning, and --strict makes them errors\n`,
    );
  }, 60_000);

  it("a cell that listens but is not a server, and a client above its only server: warnings, and the run goes on", async () => {
    const path = page(
      "# Order\n\n" +
        client("early", "http") +
        TCP_SERVER +
        ts("name=loner", `import net from "node:net";\nimport { port } from "lectern";\nconst s = net.createServer();\ns.listen(port("other"), "127.0.0.1", () => s.close());`),
    );
    const { code, stderr } = await lectern(["run", path, "--cache", cacheDir]);
    expect(code).toBe(0);
    expect(stderr.split("\n")).toEqual([
      `lectern: ${path}:3: warning: cell "early" uses port "http", whose only server "web" comes later in the page (line 9): Lectern starts it first, but a reader meets the client before its server; move "web" above it`,
      `lectern: ${path}:19: warning: cell "loner" listens on port "other" but is not marked server: Lectern waits for it to end as for a client, and no client waits for it to listen; add "server" to its fence`,
      "",
    ]);
  }, 30_000);

  it("a build names every invalid page at once; run gives a compile error its column", async () => {
    const dir = tmp();
    page("# A\n\n" + ts("name=a needs=nobody", "console.log(1);"), "a.md", dir);
    page("# B\n\n" + ts("name=b", "console.log(2);"), "b.md", dir);
    page("# C\n\n- item\n\n  " + ts("name=c", "const x = ;").replace(/\n(?=.)/g, "\n  "), "c.md", dir);
    // An error at the end of a cell's code (esbuild puts it on the closer's line) is at the end of its last line.
    page("# D\n\n> " + ts("name=d", 'const s = "abc').replace(/\n(?=.)/g, "\n> "), "d.md", dir);
    const { code, stderr } = await lectern(["build", dir, "--out", join(dir, "site"), "--cache", cacheDir]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      `lectern: ${join(dir, "a.md")}:3: cell "a" needs "nobody", which this page does not have (its cells: a) [E_NEEDS_UNKNOWN]\n` +
        `lectern: ${join(dir, "c.md")}:6:13: cell "c" does not compile: Unexpected ";" [E_COMPILE]\n` +
        `lectern: ${join(dir, "d.md")}:4:17: cell "d" does not compile: Unterminated string literal [E_COMPILE]\n`,
    );
    const run = await lectern(["run", join(dir, "c.md")]);
    expect([run.code, run.stderr]).toEqual([2, `lectern: ${join(dir, "c.md")}:6:13: cell "c" does not compile: Unexpected ";" [E_COMPILE]\n`]);
  }, 30_000);
});

describe("why a cell failed", () => {
  it("a timeout says what the cell still had open", async () => {
    const deaf = ts("name=deaf server", `import dgram from "node:dgram";\nimport { port } from "lectern";\nconst s = dgram.createSocket("udp4");\ns.on("message", () => {});\ns.bind(port("udp"), "127.0.0.1");`);
    const asker = ts("name=asker timeout=1", `import dgram from "node:dgram";\nimport { port } from "lectern";\nconst s = dgram.createSocket("udp4");\ns.on("message", () => s.close());\ns.send("hi", port("udp"), "127.0.0.1");`);
    const { code, stdout } = await lectern(["run", page("# Lost\n\n" + deaf + asker), "--json", "--cache", cacheDir]);
    expect(code).toBe(1);
    const doc = JSON.parse(stdout);
    const cell = doc.pages[0].cells.find((c: { name: string }) => c.name === "asker");
    expect(cell.status).toBe("timeout");
    expect(cell.reason).toMatch(
      new RegExp(`^still running after 1 s: a UDP socket on 0\\.0\\.0\\.0:\\d+ \\(its last datagram went to 127\\.0\\.0\\.1:${doc.pages[0].ports.udp} and no reply came\\) is still open; did the cell close it\\?$`),
    );
  }, 30_000);

  it("a server on a fixed number is stopped as soon as it listens there, not at its timeout", async () => {
    const fixed = 20000 + Math.floor(Math.random() * 10000); // below the range port 0 draws from
    const srv = ts("name=srv server timeout=30", `import net from "node:net";\nimport { port } from "lectern";\nconst wanted = port("tcp");\nnet.createServer().listen(${fixed}, "127.0.0.1");`);
    const { code, stdout } = await lectern(["run", page("# Fixed\n\n" + srv + client("cli", "tcp")), "--json", "--cache", cacheDir]);
    expect(code).toBe(1);
    const doc = JSON.parse(stdout);
    const [server, cli] = doc.pages[0].cells;
    const reason = `it listened on ${fixed}, not on its port tcp=${doc.pages[0].ports.tcp}: listen on port("tcp") so its clients find it`;
    expect([server.status, server.reason]).toEqual(["failed", reason]);
    expect(server.durationMs).toBeLessThan(30_000); // stopped, not timed out: the timeout is 30 s
    expect([cli.status, cli.reason]).toEqual(["failed", `not started: server "srv" ended before it was ready (${reason})`]);
  }, 60_000);

  it("a server that cannot bind says which port is taken, in the text report", async () => {
    const outside = net.createServer();
    await new Promise<void>((r) => outside.listen(0, "127.0.0.1", r));
    const taken = (outside.address() as net.AddressInfo).port;
    try {
      const srv = ts("name=srv server", `import net from "node:net";\nimport { port } from "lectern";\nnet.createServer().listen(port("tcp"), "127.0.0.1");`);
      const { code, stdout } = await lectern(["run", page("# Taken\n\n" + srv), "--port", `tcp=${taken}`, "--cache", cacheDir]);
      expect(code).toBe(1);
      expect(stdout).toMatch(/^✗ srv \(failed, exit 1, .*\n {2}EADDRINUSE: port tcp=\d+ is taken; it exited with status 1\n/m);
      expect(stdout).toContain(`  EADDRINUSE: port tcp=${taken} is taken; it exited with status 1\n`);
    } finally {
      outside.close();
    }
  }, 30_000);
});

describe("expected output in the published page", () => {
  it("build shows a badge and the diff, counts it in the summary; build --check exits 1", async () => {
    const dir = tmp();
    page("# Greeting\n\n" + ts("name=hello", 'console.log("hello <world>");') + "```output\ngoodbye <world>\n```\n", "greet.md", dir);
    const out = join(dir, "site");
    const build = await lectern(["build", dir, "--out", out, "--cache", cacheDir]);
    expect(build.code).toBe(0);
    expect(build.stdout).toContain(`output differs from its block: ${join(dir, "greet.md")}:3 hello\n`);
    const html = readFileSync(join(out, "greet.html"), "utf8");
    expect(html).toContain(`<span class="status status-passed">passed</span> <span class="status status-differs">output differs</span>`);
    expect(html).toContain(
      `<details class="output-diff"><summary>Output differs from the expected block (line 7)</summary><pre>--- expected\n+++ actual\n@@ -1 +1 @@\n-goodbye &lt;world&gt;\n+hello &lt;world&gt;\n</pre></details>`,
    );
    expect(html).toContain(`<span class="differs">1 cell with output that differs from the page</span>`);
    expect(html).toContain(`<p class="failures">Output differs: <a href="#cell-hello">hello</a></p>`);
    const check = await lectern(["build", dir, "--out", out, "--cache", cacheDir, "--check"]);
    expect(check.code).toBe(1);
    expect(check.stderr).toBe("lectern: --check: 1 cell printed what its output block does not say (run `lectern test` for the diffs)\n");
    writeFileSync(join(dir, "greet.md"), readFileSync(join(dir, "greet.md"), "utf8").replace("goodbye", "hello"));
    expect((await lectern(["build", dir, "--out", out, "--cache", cacheDir, "--check"])).code).toBe(0);
    expect(readFileSync(join(out, "greet.html"), "utf8")).not.toContain("output differs");
  }, 60_000);
});

describe("front matter", () => {
  it("timeout: is the page's default, and jobs: 1 runs its cells one at a time", async () => {
    // Each cell holds a file made with O_EXCL while it runs: two at once would fail with EEXIST.
    const hold = (n: number) => ts(`name=hold${n}`, `import { openSync, closeSync, unlinkSync } from "node:fs";\ncloseSync(openSync("held", "wx"));\nawait new Promise((r) => setTimeout(r, 200));\nunlinkSync("held");\nconsole.log("held ${n}");`);
    const slow = ts("name=slow", "await new Promise((r) => setTimeout(r, 60_000));");
    const path = page("---\ntitle: Settings\ntimeout: 3.5\njobs: 1\n---\n\n" + hold(1) + hold(2) + hold(3) + slow);
    // The cells meet through a file beside the page, which a sandboxed cell may write only when allowed.
    const { code, stdout } = await lectern(["run", path, "--json", "--jobs", "8", "--cache", cacheDir, `--allow-write=${dirname(path)}`]);
    expect(code).toBe(1);
    const cells = JSON.parse(stdout).pages[0].cells.map((c: { name: string; status: string; reason: string | null }) => [c.name, c.status, c.reason]);
    expect(cells).toEqual([
      ["hold1", "passed", null],
      ["hold2", "passed", null],
      ["hold3", "passed", null],
      ["slow", "timeout", "still running after 3.5 s"],
    ]);
  }, 30_000);

  it("a setting that is not a number is an error at its line", async () => {
    const path = page("---\ntitle: T\ntimeout: soon\n---\n\n" + ts("name=a", "console.log(1);"));
    expect(await lectern(["run", path])).toEqual({ code: 2, stdout: "", stderr: `lectern: ${path}:3: front matter timeout: takes a number above 0, not "soon" [E_ATTR_VALUE]\n` });
  }, 30_000);
});

describe("--no-servers", () => {
  it("runs the lecture's UDP client against a real server outside Lectern on a pinned port", async () => {
    const outside = createSocket("udp4");
    outside.on("message", (msg, from) => outside.send(`outside: ${String(msg).toUpperCase()}`, from.port, from.address));
    await new Promise<void>((r) => outside.bind(0, "127.0.0.1", r));
    const pinned = outside.address().port;
    try {
      const { code, stdout } = await lectern(["run", LECTURE, "--cell", "udp-client", "--port", `udp=${pinned}`, "--no-servers", "--json", "--cache", cacheDir]);
      expect(code).toBe(0);
      const doc = JSON.parse(stdout);
      expect(doc.pages[0].ports).toEqual({ udp: pinned });
      expect(doc.pages[0].cells.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual([["udp-client", "passed"]]);
      expect(doc.pages[0].cells[0].output).toContain(`reply from 127.0.0.1:${pinned}: outside: HELLO FROM THE UDP CLIENT\n`);
    } finally {
      outside.close();
    }
  }, 30_000);

  it("build --no-servers publishes every page's clients against the outside server, its servers not started", async () => {
    const outside = net.createServer((c) => c.end("from outside\n"));
    await new Promise<void>((r) => outside.listen(0, "127.0.0.1", r));
    const pinned = (outside.address() as net.AddressInfo).port;
    try {
      const dir = tmp();
      page("# Web\n\n" + TCP_SERVER + client("getter", "http"), "web.md", dir);
      const { code, stdout } = await lectern(["build", dir, "--no-servers", "--port", `http=${pinned}`, "--out", join(dir, "site"), "--cache", cacheDir, "--json"]);
      expect(code).toBe(0);
      const cells = JSON.parse(stdout).pages[0].cells.map((c: { name: string; status: string; reason: string | null; output: string }) => [c.name, c.status, c.reason, c.output]);
      expect(cells).toEqual([
        ["web", "skipped", "not started: --no-servers", ""],
        ["getter", "passed", null, "from outside\n"],
      ]);
      expect(readFileSync(join(dir, "site", "web.html"), "utf8")).toContain("from outside");
    } finally {
      outside.close();
    }
  }, 30_000);

  it("a client whose server's port is not given is a usage error", async () => {
    const { code, stderr } = await lectern(["run", LECTURE, "--cell", "udp-client", "--no-servers"]);
    expect(code).toBe(2);
    expect(stderr.split("\n")[0]).toBe(`lectern: --no-servers: cell "udp-client" talks to port "udp", which only a server of ${LECTURE} serves; say where yours listens with --port udp=N`);
  }, 30_000);
});

describe("a course in CI", () => {
  it("shards build a stable share each; their caches copied together publish every page with --frozen", async () => {
    const dir = tmp();
    const course = join(dir, "course");
    mkdirSync(course);
    for (const name of ["a", "b", "c"]) page(`# ${name}\n\n` + ts(`name=${name}`, `console.log("page ${name}");`), `${name}.md`, course);
    const shard = async (k: number) => {
      const r = await lectern(["build", "course", "--shard", `${k}/2`, "--cache", `cache-${k}`, "--out", `site-${k}`, "--json"], dir);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout).pages.map((p: { path: string }) => p.path);
    };
    expect(await shard(1)).toEqual(["course/a.md", "course/c.md"]);
    expect(await shard(2)).toEqual(["course/b.md"]);
    for (const k of [1, 2]) cpSync(join(dir, `cache-${k}`), join(dir, "merged"), { recursive: true });
    const publish = await lectern(["build", "course", "--frozen", "--cache", "merged", "--out", "site", "--json"], dir);
    expect(publish.code).toBe(0);
    const cells = JSON.parse(publish.stdout).pages.flatMap((p: { cells: { name: string; cached: boolean; output: string }[] }) => p.cells);
    expect(cells.map((c: { name: string; cached: boolean; output: string }) => [c.name, c.cached, c.output])).toEqual([
      ["a", true, "page a\n"],
      ["b", true, "page b\n"],
      ["c", true, "page c\n"],
    ]);
    expect(readFileSync(join(dir, "site", "b.html"), "utf8")).toContain("page b");
    const bad = await lectern(["build", "course", "--shard", "3/2"], dir);
    expect([bad.code, bad.stderr.split("\n")[0]]).toEqual([2, 'lectern: --shard takes K/N with 1 <= K <= N, as in --shard 2/4, not "3/2"']);
  }, 60_000);
});
