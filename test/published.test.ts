// Issue 21, through the real command: bad input gives `file:line` (never a stack trace), and what
// is published is what happened (no mixed runs, no lost site, nothing half-written).
// It makes about 45 real `lectern` starts; those that cannot meet (folders of their own, or
// nothing written) run side by side, so one waiting on a server or a signal leaves the core to another.
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountTmpfs, tmp } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "runner", "bin.mjs");

type Ran = { code: number; stdout: string; stderr: string };

/** The real `lectern`, in `cwd`. */
function lectern(args: string[], cwd = ROOT): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A folder with these pages in it. */
function folder(pages: Record<string, string>): string {
  const dir = tmp();
  for (const [name, text] of Object.entries(pages)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("code acorn cannot read is a diagnostic at the page's line", () => {
  // The column is where acorn stopped: the regular expression, or as deep as it got.
  const cases: [string, string, number, string, string][] = [
    ["/(/", "2", 11, "E_COMPILE", `cell "c" does not compile: Invalid regular expression: /(/: Unterminated group`],
    ["/a{2,1}/", "2", 11, "E_COMPILE", `cell "c" does not compile: Invalid regular expression: /a{2,1}/: numbers out of order in {} quantifier`],
    ["/\\k<nope>/u", "2", 11, "E_COMPILE", `cell "c" does not compile: Invalid regular expression: /\\k<nope>/: Invalid named capture referenced`],
    ["{a:".repeat(1000) + "1" + "}".repeat(1000), "2", 1761, "E_PORT_DYNAMIC", `cell "c" is nested too deeply for Lectern to find the ports it names: split it into smaller expressions`],
  ];
  for (const [code, line, column, errorCode, message] of cases) {
    it.concurrent(`${code.slice(0, 20)}: exit 2 at the page's line`, { timeout: 30_000 }, async () => {
      const dir = folder({ "page.md": `# T\n\n\`\`\`ts name=c\nconsole.log(1);\nconst x = ${code};\n\`\`\`\n` });
      // build plans pages as list does: one case of it is enough (see the nesting case).
      const commands = code.startsWith("{") ? [["list", "page.md"], ["build", "page.md", "--cache", ".c", "--out", "site"]] : [["list", "page.md"]];
      for (const args of commands) {
        const r = await lectern(args, dir);
        expect(r.stderr).toBe(`lectern: page.md:${Number(line) + 3}:${column}: ${message} [${errorCode}]\n`);
        expect(r.code).toBe(2);
      }
    });
  }

  it("check reports the regular expressions as type errors and the nesting at the page's line", { timeout: 30_000 }, async () => {
    const [bad, deep] = await Promise.all([
      lectern(["check", "page.md"], folder({ "page.md": "```ts name=c\nconst x = /a{2,1}/;\n```\n" })),
      lectern(["check", "page.md"], folder({ "page.md": "```ts name=c\nconst x = " + "{a:".repeat(1000) + "1" + "}".repeat(1000) + ";\n```\n" })),
    ]);
    expect(bad.stdout).toBe("page.md:2:14: error TS1506: Numbers out of order in quantifier. (cell c)\n1 error in 1 cell of 1 page\n");
    expect(bad.code).toBe(1);
    expect(deep.stderr).toBe(`lectern: page.md:2:1761: cell "c" is nested too deeply for Lectern to find the ports it names: split it into smaller expressions [E_PORT_DYNAMIC]\n`);
    expect(deep.code).toBe(2);
  });
});

describe("Lectern reads regular files only, with a size cap, and says what it skipped", () => {
  function oddFolder(): string {
    const dir = folder({ "a.md": "# A\n\n```ts name=a\nconsole.log(1)\n```\n" });
    symlinkSync("self.md", join(dir, "self.md"));
    execFileSync("mkfifo", [join(dir, "x.md")]);
    symlinkSync("/dev/zero", join(dir, "zero.md"));
    writeFileSync(join(dir, "big.md"), Buffer.alloc(8 * 1024 * 1024 + 1, "a"));
    return dir;
  }

  it("build skips them, names each, and publishes the rest", { timeout: 30_000 }, async () => {
    const dir = oddFolder();
    const r = await lectern(["build", ".", "--out", "site", "--cache", ".c"], dir);
    expect(r.stderr).toBe(
      [
        "lectern: skipped big.md: 8388609 bytes; a page may have at most 8388608",
        "lectern: skipped self.md: a symbolic link that leads back to itself",
        "lectern: skipped x.md: a named pipe (FIFO); Lectern reads regular files only",
        "lectern: skipped zero.md: a device; Lectern reads regular files only",
        "",
      ].join("\n"),
    );
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, "site")).sort()).toEqual(["a.html", "assets", "index.html", "print.html", "src"]);
  });

  it("a page named on the command line that is one of them is an error, exit 2", { timeout: 30_000 }, async () => {
    const dir = oddFolder();
    const cases = [
      ["self.md", "a symbolic link that leads back to itself"],
      ["x.md", "a named pipe (FIFO); Lectern reads regular files only"],
      ["zero.md", "a device; Lectern reads regular files only"],
    ].flatMap(([name, why]) => ["list", "build", "check"].map((command) => ({ name: name!, why: why!, command })));
    // Side by side: none of them gets as far as writing anything.
    const ran = await Promise.all(cases.map(({ name, command }) => lectern(command === "build" ? [command, name, "--cache", ".c"] : [command, name], dir)));
    expect(ran.map((r) => [r.stderr, r.code])).toEqual(cases.map(({ name, why }) => [`lectern: ${name}: ${why} [E_NO_FILE]\n`, 2]));
  });
});

describe("a cache entry with a wrong type anywhere is a miss, and every value is escaped", () => {
  const corruptions: [string, (result: Record<string, unknown>) => void][] = [
    ["chunks: [null]", (r) => void (r.chunks = [null])],
    ["signal: 9", (r) => void (r.signal = 9)],
    ["reason: 5", (r) => void (r.reason = 5)],
    ['exitCode: "<b id=injected>1</b>"', (r) => void (r.exitCode = "<b id=injected>1</b>")],
    ["status: 'great'", (r) => void (r.status = "great")],
    ["durationMs: '1e9'", (r) => void (r.durationMs = "1e9")],
  ];
  it("each: the cell runs again, the page shows its real result, and the entry is good again", { timeout: 60_000 }, async () => {
    // One cell per corruption, all corrupted at once: one build must run all of them again.
    const names = corruptions.map((_, i) => `c${i}`);
    const dir = folder({ "page.md": "# P\n\n" + names.map((n) => `\`\`\`ts name=${n}\nconsole.log('${n}')\n\`\`\`\n\n`).join("") });
    const args = ["build", "page.md", "--out", "site", "--cache", ".c", "--json"];
    expect((await lectern(args, dir)).code).toBe(0);
    const results = join(dir, ".c", "results");
    for (const file of readdirSync(results).filter((f) => f.endsWith(".json"))) {
      const entry = JSON.parse(readFileSync(join(results, file), "utf8"));
      corruptions[names.indexOf(entry.result.name)]![1](entry.result);
      writeFileSync(join(results, file), JSON.stringify(entry));
    }
    const again = await lectern(args, dir);
    expect([again.stderr, again.code]).toEqual(["", 0]);
    const cells = JSON.parse(again.stdout).pages[0].cells as { name: string; cached: boolean; status: string; exitCode: unknown; output: string }[];
    expect(cells.map((c) => [c.name, c.cached, c.status, c.exitCode, c.output])).toEqual(names.map((n) => [n, false, "passed", 0, `${n}\n`]));
    const html = readFileSync(join(dir, "site", "page.html"), "utf8");
    expect(html).not.toContain("injected");
    expect(html.split('<span class="exit">exit 0</span>').length - 1).toBe(names.length);
    // The entries were replaced by good ones: the next build reuses them.
    expect((JSON.parse((await lectern(args, dir)).stdout).pages[0].cells as { cached: boolean }[]).every((c) => c.cached)).toBe(true);
  });
});

describe("a file that cannot be written is one line, exit 1, and nothing half-written", () => {
  const mounts: string[] = [];
  afterAll(() => {
    for (const dir of mounts.splice(0)) spawnSync("umount", ["-l", dir]);
  });
  const page = { "page.md": "# P\n\n```ts name=a\nconsole.log('hi')\n```\n" };
  /** Every file under dir, with the temporary files of atomic writes among them if any were left. */
  const files = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();

  it("a read-only cache", { timeout: 30_000 }, async (t) => {
    const ro = mountTmpfs("ro,size=1m");
    if (!ro) return t.skip("needs root to mount a read-only tmpfs");
    const dir = folder(page);
    const r = await lectern(["build", "page.md", "--cache", join(ro, "cache"), "--out", "site"], dir);
    expect(r.stderr).toBe(`lectern: cannot create the folder ${join(ro, "cache")}: the file system is read-only\n`);
    expect(r.code).toBe(1);
    expect(files(dir)).toEqual(["page.md"]);
  });

  it("a read-only --out keeps the site that was there", { timeout: 30_000 }, async (t) => {
    const dir = folder(page);
    const first = await lectern(["build", "page.md", "--cache", ".c", "--out", "site"], dir);
    expect(first.code).toBe(0);
    const before = files(join(dir, "site")).map((f) => [f, statSync(join(dir, "site", f)).isFile() ? readFileSync(join(dir, "site", f), "utf8") : "/"]);
    writeFileSync(join(dir, "page.md"), page["page.md"].replace("'hi'", "'changed'"));
    if (process.getuid?.() !== 0 || spawnSync("mount", ["--bind", "-o", "ro", join(dir, "site"), join(dir, "site")]).status !== 0) return t.skip("needs root to mount read-only");
    mounts.push(join(dir, "site"));
    spawnSync("mount", ["-o", "remount,bind,ro", join(dir, "site")]);
    const r = await lectern(["build", "page.md", "--cache", ".c", "--out", "site"], dir);
    // The stylesheet is unchanged, so the first file to write is the search index (the page changed).
    expect(r.stderr).toBe(`lectern: cannot write site/assets/search-index.js: the file system is read-only\n`);
    expect(r.code).toBe(1);
    expect(files(join(dir, "site")).map((f) => [f, statSync(join(dir, "site", f)).isFile() ? readFileSync(join(dir, "site", f), "utf8") : "/"])).toEqual(before);
  });

  it("a full disk under the cache, then under --out", { timeout: 30_000 }, async (t) => {
    const full = mountTmpfs("size=256k");
    if (!full) return t.skip("needs root to mount a small tmpfs");
    mkdirSync(join(full, "cache"));
    mkdirSync(join(full, "site"));
    // Fill it: a write of up to 256 KiB that stops with ENOSPC.
    spawnSync("sh", ["-c", `head -c 300000 /dev/zero > ${join(full, "fill")}`]);
    const dir = folder(page);
    const r = await lectern(["build", "page.md", "--cache", join(full, "cache"), "--out", "site"], dir);
    expect(r.stderr).toMatch(new RegExp(`^lectern: cannot write ${join(full, "cache", "compiled")}/[0-9a-f]+\\.mjs: no space left on the device\\n$`));
    expect(r.code).toBe(1);
    const out = await lectern(["build", "page.md", "--cache", ".c", "--out", join(full, "site")], dir);
    expect(out.stderr).toBe(`lectern: cannot write ${join(full, "site", "assets", "lectern.css")}: no space left on the device\n`);
    expect(out.code).toBe(1);
    // No temporary file and no part of a file is left behind.
    expect(files(full)).toEqual(["cache", "cache/compiled", "cache/ports", "fill", "site", "site/assets"]);
  });
});

describe("what a build and a run report is what happened", () => {
  it("'wrote N files' counts the files written, not the pages left as they were", { timeout: 30_000 }, async () => {
    const dir = folder({ "a.md": "# A\n\n```ts name=a\nconsole.log(1)\n```\n", "b.md": "# B\n\nprose\n" });
    const first = await lectern(["build", ".", "--cache", ".c", "--out", "site"], dir);
    // The assets (stylesheet, script, search library and index), each page with its sources
    // under src/ (a.html, a.md, a.ts; b.html, b.md), print.html and index.html.
    expect(first.stdout).toContain("\nwrote 11 files to site/ (open site/index.html)\n");
    // a.html now says its cell came from the cache: written again with its sources, and so is
    // print.html (the whole course); the index, whose text is the same, is not.
    const again = await lectern(["build", ".", "--cache", ".c", "--out", "site"], dir);
    expect(again.stdout).toContain("\nwrote 4 files to site/ (open site/index.html)\n");
    // Nothing changed, nothing written.
    const third = await lectern(["build", ".", "--cache", ".c", "--out", "site"], dir);
    expect(third.stdout).toContain("\nwrote 0 files to site/ (open site/index.html)\n");
    writeFileSync(join(dir, "b.md"), "# B\n\nother prose\n");
    const edited = await lectern(["build", ".", "--cache", ".c", "--out", "site"], dir);
    // b.html and b.md, the search index (made of the pages' sources), print.html, and the index
    // (its entry for b shows b's first prose).
    expect(edited.stdout).toContain("\nwrote 5 files to site/ (open site/index.html)\n");
  });

  // These two run side by side, each with a temporary folder of its own.
  it.concurrent("sweeps the lock files of Lecterns that were killed, and only theirs", { timeout: 30_000 }, async () => {
    const temp = tmp();
    const locks = join(temp, `lectern-ports-${process.getuid?.() ?? 0}`);
    mkdirSync(locks);
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout.trim());
    for (let port = 40000; port < 40165; port++) writeFileSync(join(locks, String(port)), String(deadPid));
    writeFileSync(join(locks, "40200"), String(process.pid));
    writeFileSync(join(locks, "40201"), "");
    const dir = folder({ "page.md": '```ts name=a\nimport { port } from "lectern";\nconsole.log(typeof port("p"));\n```\n' });
    const r = await new Promise<Ran>((resolve) =>
      // --allow-net: the run shares the machine's network, where the lock files fence ports off.
      execFile(process.execPath, [BIN, "run", "page.md", "--cache", ".c", "--allow-net=127.0.0.1"], { cwd: dir, env: { ...process.env, TMPDIR: temp } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      ),
    );
    expect(r.code).toBe(0);
    expect(readdirSync(locks).sort()).toEqual(["40200", "40201"]);
  });

  it.concurrent("removes the scratch and capture folders of Lecterns that were killed, and only theirs", { timeout: 30_000 }, async () => {
    const temp = tmp();
    const dead = Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());
    const left = [`lectern-scratch-${dead}-aaaaaa`, `lectern-capture-${dead}-bbbbbb`];
    const kept = [`lectern-scratch-${process.pid}-cccccc`, `lectern-capture-${process.pid}-dddddd`, "lectern-scratch-notapid"];
    for (const name of [...left, ...kept]) mkdirSync(join(temp, name, "sub"), { recursive: true });
    const dir = folder({ "page.md": '```ts name=a\nconsole.log("hi");\n```\n' });
    const r = await new Promise<Ran>((resolve) =>
      execFile(process.execPath, [BIN, "run", "page.md", "--cache", ".c"], { cwd: dir, env: { ...process.env, TMPDIR: temp } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      ),
    );
    expect(r.code).toBe(0);
    // The run's own folders are gone too, once it ended.
    expect(readdirSync(temp).filter((n) => n.startsWith("lectern-s") || n.startsWith("lectern-c")).sort()).toEqual(kept.sort());
  });

  it("a shell cell killed for memory says it ran out of memory", { timeout: 120_000 }, async (t) => {
    if (!existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes") && !existsSync("/sys/fs/cgroup/cgroup.controllers")) return t.skip("no memory cgroup here");
    // tail keeps every byte of a line that never ends, touching each page as it grows, so the
    // cgroup's limit is what stops it. (mawk's `s = s s` was tried first: it dies of SIGSEGV when
    // an allocation fails, before the cgroup is reached, on machines that overcommit strictly.)
    // The ulimit bounds it where no memory cgroup can be made.
    const dir = folder({ "page.md": "```sh name=hog timeout=100\nulimit -v 2097152\ntail /dev/zero\n```\n" });
    const r = await lectern(["run", "page.md", "--json", "--cache", ".c"], dir);
    const cell = JSON.parse(r.stdout).pages[0].cells[0];
    if (cell.reason === "it exited with status 1" && !process.env.CI) return t.skip("Lectern could not make a memory cgroup here");
    expect([cell.status, cell.reason]).toEqual(["failed", "stopped: ran out of memory (a cell may use 512 MiB)"]);
    expect(r.code).toBe(1);
  });
});

describe("an interrupted build exits 130 and keeps the good site", () => {
  const slow = (marker: string, delay: string) =>
    `# B\n\n\`\`\`ts name=first\nconsole.log('first')\n\`\`\`\n\n\`\`\`ts name=slow needs=first\nimport { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "");\nsetTimeout(() => console.log("late"), ${delay});\n\`\`\`\n\n\`\`\`ts name=after needs=slow\nconsole.log('after')\n\`\`\`\n`;
  // The good site is built once, and each signal interrupts a copy of it.
  let good: string;
  beforeAll(async () => {
    good = folder({ "a.md": "# A\n\n```ts name=a\nconsole.log('a')\n```\n" });
    writeFileSync(join(good, "b.md"), slow(join(good, "started"), "0"));
    const built = await lectern(["build", ".", "--cache", ".c", "--out", "site", "--allow-write=."], good);
    expect(built.code).toBe(0);
    rmSync(join(good, "started"));
  }, 60_000);

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it.concurrent(`${signal} while a cell runs: no page written, the site as it was`, { timeout: 60_000 }, async () => {
      const dir = tmp();
      cpSync(good, dir, { recursive: true });
      const marker = join(dir, "started");
      const snapshot = () => readdirSync(join(dir, "site"), { recursive: true, encoding: "utf8" }).sort().map((f) => [f, statSync(join(dir, "site", f)).isFile() ? readFileSync(join(dir, "site", f), "utf8") : "/"]);
      const before = snapshot();
      writeFileSync(join(dir, "b.md"), slow(marker, "60_000"));
      const child = spawn(process.execPath, [BIN, "build", ".", "--rerun", "--cache", ".c", "--out", "site", "--allow-write=."], { cwd: dir });
      let stderr = "";
      let stdout = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.stdout.on("data", (d) => (stdout += d));
      const ended = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      for (let i = 0; i < 600 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(marker)).toBe(true);
      child.kill(signal);
      expect(await ended).toBe(130);
      expect(stderr).toBe("lectern: interrupted: nothing was written to site/ (what finished is in the cache for the next build)\n");
      // The page that was stopped is not called passed or failed.
      expect(stdout).toMatch(/^- b\.md: interrupted: 1 passed, 1 failed, 1 skipped \(/m);
      expect(snapshot()).toEqual(before);
    });
  }
});

describe("a server and the cells that talk to it are published from one run", () => {
  const client = (name: string) =>
    `\`\`\`ts name=${name} stdin="${name}"\nimport net from "node:net";\nimport { input, port } from "lectern";\nconst who = await input();\nconst s = net.connect(port("chat"), "127.0.0.1", () => s.end(who));\ns.on("data", (d) => console.log(String(d)));\n\`\`\`\n\n`;
  const source =
    "# Chat\n\n```ts name=chat server\nimport net from \"node:net\";\nimport { port } from \"lectern\";\nnet.createServer((s) => s.on(\"data\", (d) => { console.log(`joined: ${d}`); s.end(`welcome ${d}`); })).listen(port(\"chat\"), \"127.0.0.1\");\n```\n\n" +
    client("alice") + client("bob") + client("carol") + "```ts name=alone\nconsole.log('alone')\n```\n";
  type Cell = { name: string; cached: boolean; output: string; ranAt?: string };
  const cells = (r: Ran): Record<string, Cell> => Object.fromEntries(JSON.parse(r.stdout).pages[0].cells.map((c: Cell) => [c.name, c]));
  const cachedOf = (r: Ran) => Object.fromEntries(Object.values(cells(r)).map((c) => [c.name, c.cached]));
  const joined = (r: Ran) => cells(r).chat!.output.split("\n").filter(Boolean).sort();

  it("after run --cell, after a lost server result: build runs the server with all its clients", { timeout: 120_000 }, async () => {
    const dir = folder({ "chat.md": source });
    const build = ["build", "chat.md", "--cache", ".c", "--out", "site", "--json"];
    // Only alice ran: bob and carol are missing, so the server runs again with all three.
    expect((await lectern(["run", "chat.md", "--cell", "alice", "--cache", ".c"], dir)).code).toBe(0);
    const first = await lectern(build, dir);
    expect(first.code).toBe(0);
    expect(cachedOf(first)).toEqual({ chat: false, alice: false, bob: false, carol: false, alone: false });
    expect(joined(first)).toEqual(["joined: alice", "joined: bob", "joined: carol"]);
    expect((await lectern(build, dir)).stdout).toBe(first.stdout.replace(/"cached": false/g, '"cached": true'));

    // Every cell has a result, but the server's and alice's are from a later run than bob's.
    expect((await lectern(["run", "chat.md", "--cell", "alice", "--cache", ".c"], dir)).code).toBe(0);
    const mixed = await lectern(build, dir);
    expect(cachedOf(mixed)).toEqual({ chat: false, alice: false, bob: false, carol: false, alone: true });
    expect(joined(mixed)).toEqual(["joined: alice", "joined: bob", "joined: carol"]);
    expect(new Set(["chat", "alice", "bob", "carol"].map((n) => cells(mixed)[n]!.ranAt)).size).toBe(1);

    // The server's result lost from the cache: its clients run with it.
    const results = join(dir, ".c", "results");
    for (const f of readdirSync(results).filter((f) => f.endsWith(".json"))) {
      if (JSON.parse(readFileSync(join(results, f), "utf8")).result.name === "chat") rmSync(join(results, f));
    }
    const lost = await lectern(build, dir);
    expect(cachedOf(lost)).toEqual({ chat: false, alice: false, bob: false, carol: false, alone: true });
    expect(joined(lost)).toEqual(["joined: alice", "joined: bob", "joined: carol"]);
    const html = readFileSync(join(dir, "site", "chat.html"), "utf8");
    expect(html).toContain("All 5 cells passed");
  });
});

describe("test --update changes only what differs", () => {
  it("keeps `...`, {any} and {port:NAME} lines that still match, and the next test passes", { timeout: 60_000 }, async () => {
    const code = 'import { port } from "lectern";\nconsole.log(`listening on 127.0.0.1:${port("p")}`);\nconsole.log(`pid ${process.pid}`);\nfor (let i = 1; i <= 5; i++) console.log(`line ${i}`);\nconsole.log("the end, changed");\nconsole.log("{any} printed");\n';
    const block = (body: string) => `# U\n\n- a list item\n\n  \`\`\`ts name=c\n  ${code.trimEnd().split("\n").join("\n  ")}\n  \`\`\`\n  \`\`\`output\n  ${body.trimEnd().split("\n").join("\n  ")}\n  \`\`\`\n\nAfter.\n`;
    const dir = folder({ "u.md": block("listening on 127.0.0.1:{port:p}\npid {any}\n...\nline 5\nthe end\ngone\n") });
    const updated = await lectern(["test", "u.md", "--update", "--cache", ".c"], dir);
    expect(updated.stdout).toContain("✎ c  u.md:5 (output block updated)\n");
    expect(updated.code).toBe(0);
    expect(readFileSync(join(dir, "u.md"), "utf8")).toBe(block("listening on 127.0.0.1:{port:p}\npid {any}\n...\nline 5\nthe end, changed\n\\{any} printed\n"));
    const again = await lectern(["test", "u.md", "--cache", ".c"], dir);
    expect(again.stdout.endsWith("1 passed, 0 failed\n")).toBe(true);
    expect(again.code).toBe(0);
  });
});

describe("the lecture's tcp-client notices a connection closed early", () => {
  const lecture = readFileSync(join(ROOT, "notebook", "lec3-socket-programming.md"), "utf8");
  const clientCell = /```ts name=tcp-client[\s\S]*?\n```\n/.exec(lecture)![0];
  const servers: [string, string, string][] = [
    ["closes at once", "s.end()", "No reply: the server closed the connection."],
    ["closes after the first line", 's.once("data", () => s.end())', "No reply: the server closed the connection."],
    ["resets the connection", 's.once("data", () => s.resetAndDestroy())', "No reply: the connection failed (ECONNRESET)."],
  ];
  for (const [what, handler, said] of servers) {
    it.concurrent(`against a server that ${what}: says so and fails, no "undefined", no stack trace`, { timeout: 60_000 }, async () => {
      const server = `\`\`\`ts name=tcp-server server\nimport net from "node:net";\nimport { port } from "lectern";\nnet.createServer((s) => ${handler}).listen(port("tcp"), "127.0.0.1");\n\`\`\`\n\n`;
      const dir = folder({ "page.md": server + clientCell });
      const r = await lectern(["run", "page.md", "--json", "--cache", ".c"], dir);
      const cell = JSON.parse(r.stdout).pages[0].cells[1];
      expect(cell.output.replace(/:\d+\n/, ":PORT\n")).toBe(`connected from 127.0.0.1:PORT\nInput lowercase sentence: hello tcp\n${said}\n`);
      expect([cell.status, cell.exitCode]).toEqual(["failed", 1]);
      expect(r.code).toBe(1);
    });
  }
});
