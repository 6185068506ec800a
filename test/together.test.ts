// Cells that must run at the same time (with=), through the real command: three chat clients
// that wait for each other run together under --jobs 1 and when one of them is asked for alone.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cacheDir, tmp, ts } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "runner", "bin.mjs");
const CHAT = "test/fixtures/pages/chat.md";

function lectern(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

type JsonCell = { name: string; status: string; output: string; reason: string | null; signal: string | null };

async function runJson(args: string[]): Promise<{ code: number; cells: JsonCell[] }> {
  const { code, stdout, stderr } = await lectern(["run", CHAT, "--json", "--cache", cacheDir, ...args]);
  expect(stderr).toBe("");
  return { code, cells: JSON.parse(stdout).pages[0].cells };
}

const heard = {
  alice: "hello from bob\nhello from carol\n",
  bob: "hello from alice\nhello from carol\n",
  carol: "hello from alice\nhello from bob\n",
};

describe("with=: cells that run together", () => {
  it("runs three clients that wait for each other under --jobs 1, then the rest", async () => {
    const { code, cells } = await runJson(["--jobs", "1"]);
    expect(cells.map((c) => [c.name, c.status, c.output])).toEqual([
      ["chat", "passed", "3 joined\n"],
      ["alice", "passed", heard.alice],
      ["bob", "passed", heard.bob],
      ["carol", "passed", heard.carol],
      ["later", "passed", "after the chat\n"],
    ]);
    expect(cells[0]!.signal).toBe("SIGTERM");
    expect(code).toBe(0);
  }, 60_000);

  it("--cell alice brings the whole group and its server, and nothing else", async () => {
    const { code, cells } = await runJson(["--cell", "alice", "--jobs", "2"]);
    expect(cells.map((c) => [c.name, c.status, c.output])).toEqual([
      ["chat", "passed", "3 joined\n"],
      ["alice", "passed", heard.alice],
      ["bob", "passed", heard.bob],
      ["carol", "passed", heard.carol],
    ]);
    expect(code).toBe(0);
  }, 60_000);

  it("prints each cell of the group under its name", async () => {
    const { code, stdout } = await lectern(["run", CHAT, "--cell", "carol", "--jobs", "1", "--cache", cacheDir]);
    for (const [name, text] of Object.entries(heard)) {
      expect(stdout).toContain(`${name} (passed, exit 0, `);
      expect(stdout).toContain(text.trimEnd().split("\n").map((l) => `  │ ${l}`).join("\n"));
    }
    expect(stdout).not.toContain("later");
    expect(stdout.trimEnd().split("\n").at(-1)).toMatch(/^4 passed, 0 failed \(/);
    expect(code).toBe(0);
  }, 60_000);

  it("lists each cell's group, in text and in JSON", async () => {
    const text = await lectern(["list", CHAT]);
    expect(text.stdout.split("\n")[1]).toBe(`${CHAT}:28   alice  ts          needs chat  with bob,carol    ports chat`);
    const json = JSON.parse((await lectern(["list", CHAT, "--json"])).stdout);
    expect(json.cells.map((c: { name: string; with: string[] }) => [c.name, c.with])).toEqual([
      ["chat", []],
      ["alice", ["bob", "carol"]],
      ["bob", ["alice", "carol"]],
      ["carol", ["alice", "bob"]],
      ["later", []],
    ]);
  });

  const page = (source: string) => {
    const path = join(tmp(), "group.md");
    writeFileSync(path, source);
    return path;
  };

  it.each([
    {
      why: "a cell the page does not have",
      source: "# G\n\n" + ts("name=a with=b,zed", "1") + ts("name=b", "2"),
      line: 3,
      message: 'cell "a" runs with "zed", which this page does not have (its cells: a, b) [E_NEEDS_UNKNOWN]',
    },
    { why: "itself", source: ts("name=a with=a", "1"), line: 1, message: 'cell "a" runs with itself: with= names the other cells of its group [E_ATTR_VALUE]' },
    {
      why: "a cell it needs",
      source: ts("name=a", "1") + ts("name=b needs=a with=a", "2"),
      line: 5,
      message: 'cell "b" runs with "a" but also waits for it (it needs it): cells that start together cannot wait for each other [E_NEEDS_CYCLE]',
    },
    {
      why: "a group that waits for itself through another cell",
      source: ts("name=a with=b needs=c", "1") + ts("name=b", "2") + ts("name=c needs=b", "3"),
      line: 9,
      message: "these cells wait for each other: c -> b -> c (a with= group waits for what any of its cells waits for) [E_NEEDS_CYCLE]",
    },
    {
      why: "a skipped cell in a group that runs",
      source: ts("name=a with=b", "1") + ts("name=b skip", "2"),
      line: 5,
      message: 'cell "b" is skip, but runs with "a": skip the whole group or none of it [E_ATTR_VALUE]',
    },
    { why: "with= and no names", source: ts("name=a with=", "1"), line: 1, message: "with=: with needs a value, as in with=... [E_ATTR_VALUE]" },
  ])("rejects with= naming $why, at file:line, before anything runs", async ({ source, line, message }) => {
    const path = page(source);
    const { code, stdout, stderr } = await lectern(["run", path, "--cache", cacheDir]);
    expect(stderr).toBe(`lectern: ${path}:${line}: ${message}\n`);
    expect(stdout).toBe("");
    expect(code).toBe(2);
  });
});
