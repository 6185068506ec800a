import { execFile, spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { executePlan, type ExecuteOptions } from "../runner/execute/execute.ts";
import { readPage } from "../runner/extract/extract.ts";
import { createLimiter } from "../runner/execute/limit.ts";
import { planPage } from "../runner/plan/plan.ts";
import { runCached, storeResults, type CacheMode } from "../runner/cache/rebuild.ts";
import { pageTrace } from "../runner/trace/trace.ts";
import { mountTmpfs, tmp, ts } from "./helpers.ts";

const server = (greeting: string) =>
  ts(
    "name=srv server",
    `import net from "node:net";\nimport { port } from "lectern";\nnet.createServer((s) => s.end("${greeting}\\n")).listen(port("tcp"), "127.0.0.1");`,
  );
const client = (info: string) =>
  ts(
    `name=cli ${info}`,
    `import net from "node:net";\nimport { input, port } from "lectern";\nconst who = await input();\nnet.connect(port("tcp"), "127.0.0.1").on("data", (d) => console.log(who, String(d).trim()));`,
  );
const helperUser = ts("name=uses", `import { shout } from "./helper.ts";\nconsole.log(shout("hi"));`);
const failing = ts("name=bad", `console.log("oops");\nprocess.exit(2);`);

function page(parts: { prose?: string; greeting?: string; clientInfo?: string } = {}): string {
  return `# Page\n\n${parts.prose ?? "Some prose."}\n\n` + server(parts.greeting ?? "hello") + client(parts.clientInfo ?? 'stdin="ada"') + helperUser + failing;
}

function setup() {
  const dir = tmp();
  const path = join(dir, "page.md");
  writeFileSync(join(dir, "helper.ts"), 'export const shout = (s: string) => s.toUpperCase() + "!";\n');
  const options: ExecuteOptions = {
    cacheDir: join(dir, "cache"),
    timeout: 10,
    jobs: createLimiter(4),
    env: { PATH: process.env.PATH ?? "" },
    maxOutput: 1 << 20,
    graceMs: 500,
  };
  const build = async (source: string, mode: CacheMode = "use") => {
    writeFileSync(path, source);
    const r = await runCached(await planPage(await readPage(path)), options, mode);
    const cached = Object.fromEntries((r.result?.cells ?? []).map((c) => [c.name, c.cached]));
    return { ...r, cached };
  };
  return { dir, path, options, build };
}

const allCached = { srv: true, cli: true, uses: true, bad: true };

describe("the result cache", () => {
  it("reruns exactly what each kind of edit touches", async () => {
    const { dir, build } = setup();
    const first = await build(page());
    expect(first.cached).toEqual({ srv: false, cli: false, uses: false, bad: false });
    expect(first.result!.cells.map((c) => [c.name, c.status])).toEqual([
      ["srv", "passed"],
      ["cli", "passed"],
      ["uses", "passed"],
      ["bad", "failed"],
    ]);

    // Prose: nothing runs. A failure comes back from the cache as a failure. Lines come from
    // the page as it is now, ports as they were in the run that made the output.
    const prose = await build(page({ prose: "Other words entirely.\n\nAnd a second paragraph." }));
    expect(prose.cached).toEqual(allCached);
    // The trace comes back from the records the cells wrote, event for event.
    expect(pageTrace(prose.result!).length).toBeGreaterThan(0);
    expect(pageTrace(prose.result!)).toEqual(pageTrace(first.result!));
    expect(prose.result!.cells.map((c) => c.line)).toEqual(first.result!.cells.map((c) => c.line + 2));
    expect(prose.result!.ports).toEqual(first.result!.ports);
    expect(prose.result!.cells[3]).toMatchObject({ status: "failed", exitCode: 2, output: "oops\n", cached: true });

    // stdin (an attribute): the client, and its server with it, since the client needs it running.
    const stdin = await build(page({ clientInfo: 'stdin="grace"' }));
    expect(stdin.cached).toEqual({ srv: false, cli: false, uses: true, bad: true });
    expect(stdin.result!.cells[1]!.output).toBe("grace\ngrace hello\n");

    // Another attribute.
    expect((await build(page({ clientInfo: 'stdin="grace" timeout=5' }))).cached).toEqual({ srv: false, cli: false, uses: true, bad: true });

    // The server's code: its clients rerun too.
    const srv = await build(page({ greeting: "howdy", clientInfo: 'stdin="grace" timeout=5' }));
    expect(srv.cached).toEqual({ srv: false, cli: false, uses: true, bad: true });
    expect(srv.result!.cells[1]!.output).toBe("grace\ngrace howdy\n");

    // A local file a cell imports.
    writeFileSync(join(dir, "helper.ts"), 'export const shout = (s: string) => s.toUpperCase() + "?";\n');
    const imported = await build(page({ greeting: "howdy", clientInfo: 'stdin="grace" timeout=5' }));
    expect(imported.cached).toEqual({ srv: true, cli: true, uses: false, bad: true });
    expect(imported.result!.cells[2]!.output).toBe("HI?\n");
  }, 60_000);

  it("treats a corrupt or half-written entry as a miss", async () => {
    const { options, build } = setup();
    await build(page());
    const results = join(options.cacheDir, "results");
    const entries = readdirSync(results).filter((f) => f.endsWith(".json"));
    expect(entries.length).toBe(4);
    for (const [i, f] of entries.entries()) writeFileSync(join(results, f), i % 2 ? "" : '{"format":"lectern-result-2","key":');
    const again = await build(page());
    expect(again.cached).toEqual({ srv: false, cli: false, uses: false, bad: false });
    expect(again.result!.cells.map((c) => c.status)).toEqual(["passed", "passed", "passed", "failed"]);

    // The traces of the two cells that talked, stored beside their entries: one cut short is a
    // miss, and so is another's (whole, but not the records its entry was stored with).
    const traces = readdirSync(results).filter((f) => f.endsWith(".trace"));
    expect(traces.length).toBe(2);
    for (const f of traces) truncateSync(join(results, f), statSync(join(results, f)).size - 4);
    expect((await build(page())).cached).toEqual({ srv: false, cli: false, uses: true, bad: true });
    const [a, b] = traces.map((f) => join(results, f));
    const swap = readFileSync(a!);
    copyFileSync(b!, a!);
    writeFileSync(b!, swap);
    expect((await build(page())).cached).toEqual({ srv: false, cli: false, uses: true, bad: true });
  }, 30_000);

  it("--frozen runs nothing and names what is missing; run feeds it", async () => {
    const { path, options, build } = setup();
    const frozen = await build(page(), "frozen");
    expect(frozen.result).toBeNull();
    expect(frozen.missing.map((c) => c.name)).toEqual(["srv", "cli", "uses", "bad"]);

    const plan = await planPage(await readPage(path));
    const ran = await executePlan(plan, { ...options, only: ["cli"] });
    await storeResults(plan, ran, options);
    const after = await build(page(), "frozen");
    expect(after.missing.map((c) => c.name)).toEqual(["uses", "bad"]);
    const filled = await build(page());
    expect(filled.cached).toEqual({ srv: true, cli: true, uses: false, bad: false });
    expect((await build(page(), "frozen")).cached).toEqual(allCached);
  }, 30_000);

  it("stays consistent when two builds share it at once", async () => {
    const { path, options, build } = setup();
    writeFileSync(path, page());
    const plan = await planPage(await readPage(path));
    const [a, b] = await Promise.all([runCached(plan, options, "use"), runCached(plan, options, "use")]);
    expect(a.result!.cells.map((c) => c.status)).toEqual(b.result!.cells.map((c) => c.status));
    expect((await build(page())).cached).toEqual(allCached);
    expect(readdirSync(join(options.cacheDir, "results")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  }, 30_000);

  it("keeps the same server on two pages apart: each page's second build runs nothing", async () => {
    const { dir, options } = setup();
    // The same server cell, each page with a client of its own.
    const sources = { "a.md": page({ clientInfo: 'stdin="ada"' }), "b.md": page({ clientInfo: 'stdin="bob"' }) };
    const run = async () => {
      const cached: Record<string, Record<string, boolean>> = {};
      for (const [name, source] of Object.entries(sources)) {
        writeFileSync(join(dir, name), source);
        const r = await runCached(await planPage(await readPage(join(dir, name))), options, "use");
        cached[name] = Object.fromEntries(r.result!.cells.map((c) => [c.name, c.cached]));
      }
      return cached;
    };
    await run();
    expect(await run()).toEqual({ "a.md": allCached, "b.md": allCached });
  }, 30_000);
});

describe("a cache that cannot be written, through run and test", () => {
  const BIN = fileURLToPath(new URL("../runner/bin.mjs", import.meta.url));
  const lectern = (args: string[], cwd: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [BIN, ...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr })),
    );
  it("is one line and exit 1: before anything runs when cells cannot be compiled into it, after the report when results cannot be stored", async (t) => {
    const ro = mountTmpfs("ro,size=64k");
    const full = mountTmpfs("size=256k");
    if (!ro || !full) return t.skip("needs root to mount a tmpfs");
    const dir = tmp();
    writeFileSync(join(dir, "page.md"), "# P\n\n" + ts("name=a", "console.log('hi');"));
    for (const command of ["run", "test"]) {
      // It was an "internal error" on every cell, which had not run.
      const r = await lectern([command, "page.md", "--cache", join(ro, "cache")], dir);
      expect([r.code, r.stdout, r.stderr]).toEqual([1, "", `lectern: cannot create the folder ${join(ro, "cache")}: the file system is read-only\n`]);
    }
    // Compiled while there was room; then the disk fills, and the run's result cannot be stored.
    expect((await lectern(["run", "page.md", "--cache", join(full, "cache")], dir)).code).toBe(0);
    rmSync(join(full, "cache", "results"), { recursive: true });
    spawnSync("sh", ["-c", `head -c 300000 /dev/zero > ${join(full, "fill")}`]);
    const r = await lectern(["run", "page.md", "--cache", join(full, "cache")], dir);
    expect(r.stdout).toContain("\n1 passed, 0 failed (");
    expect(r.stderr).toMatch(new RegExp(`^lectern: results not cached: cannot write ${join(full, "cache", "results")}/[0-9a-f]+\\.json: no space left on the device\n$`));
    expect(r.code).toBe(1);
  }, 60_000);
});
