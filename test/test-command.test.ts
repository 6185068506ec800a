// `lectern test` as a user meets it: the report, its last line, the exit status, --json,
// --junit and --update, on tiny pages run for real.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../runner/cli/cli.ts";
import { cacheDir, tmp } from "./helpers.ts";

const PASS = "test/fixtures/expect/pass.md";
const MISMATCH = "test/fixtures/expect/mismatch.md";

async function lectern(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { PATH: process.env.PATH } };
  const code = await main([...args, "--cache", cacheDir], io);
  return { code, stdout, stderr };
}

const MISMATCH_REPORT = (path: string) =>
  [
    `✗ greeting  ${path}:3`,
    `  output does not match the block at ${path}:7`,
    "  --- expected",
    "  +++ actual",
    "  @@ -1,2 +1,2 @@",
    "  -hello there",
    "  +hello world",
    "   second line",
    `✓ no-block  ${path}:12`,
    `✗ crash  ${path}:16`,
    "  failed: it exited with status 1",
    "  │ oops",
    "1 passed, 2 failed",
    "",
  ].join("\n");

describe("lectern test", () => {
  it("passes a page whose blocks use ..., {port:NAME} and {any}, with a server, an expected failure and a skipped cell", async () => {
    const { code, stdout, stderr } = await lectern(["test", PASS]);
    expect(stdout).toBe(
      [
        `✓ server  ${PASS}:3`,
        `✓ client  ${PASS}:14`,
        `✓ crash  ${PASS}:30`,
        `- later  ${PASS}:38 (skipped)`,
        "3 passed, 0 failed, 1 skipped",
        "",
      ].join("\n"),
    );
    expect(stderr).toBe("");
    expect(code).toBe(0);
  }, 30_000);

  it("names the cell whose output changed with its line and shows the diff; a failing cell shows why; exit 1", async () => {
    const { code, stdout } = await lectern(["test", MISMATCH]);
    expect(stdout).toBe(MISMATCH_REPORT(MISMATCH));
    expect(code).toBe(1);
  }, 30_000);

  it("counts the cells of every page given in its last line", async () => {
    const { code, stdout } = await lectern(["test", PASS, MISMATCH]);
    expect(stdout.split("\n").at(-2)).toBe("4 passed, 2 failed, 1 skipped");
    expect(code).toBe(1);
  }, 30_000);

  it("exits 2 for an output block naming a port the page does not have, before running anything", async () => {
    const { code, stdout, stderr } = await lectern(["test", "test/fixtures/expect/badport.md"]);
    expect(stderr).toBe('lectern: test/fixtures/expect/badport.md:6: the output block of cell "a" has {port:nope}, but this page has no port "nope" (it has none) [E_PORT_VALUE]\n');
    expect(stdout).toBe("");
    expect(code).toBe(2);
  });

  it("--json: the run document, each verdict in its cell's status, a diff where the output does not match", async () => {
    const { code, stdout } = await lectern(["test", MISMATCH, "--json"]);
    const doc = JSON.parse(stdout);
    expect(doc.ok).toBe(false);
    const [page] = doc.pages;
    expect(page.path).toBe(MISMATCH);
    expect(page.trace).toEqual([]);
    expect(page.cells.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual([
      ["greeting", "failed"],
      ["no-block", "passed"],
      ["crash", "failed"],
    ]);
    const [greeting, noBlock, crash] = page.cells;
    expect(greeting).toMatchObject({
      output: "hello world\nsecond line\n",
      exitCode: 0,
      reason: `its output does not match the block at ${MISMATCH}:7`,
      diff: "--- expected\n+++ actual\n@@ -1,2 +1,2 @@\n-hello there\n+hello world\n second line\n",
    });
    expect(noBlock).not.toHaveProperty("diff");
    expect(crash).not.toHaveProperty("diff");
    expect(crash.reason).toBe("it exited with status 1");
    expect(code).toBe(1);
  }, 30_000);

  it("--junit FILE: a testsuite per page, a testcase per cell, the diff in the failure, all escaped", async () => {
    const file = join(tmp(), "reports", "junit.xml");
    const { code } = await lectern(["test", MISMATCH, PASS, "--junit", file]);
    expect(code).toBe(1);
    const xml = readFileSync(file, "utf8").replace(/time="[\d.]+"/g, 'time="T"').replace(/timestamp="[^"]+"/g, 'timestamp="S"');
    expect(xml).toBe(
      [
        `<?xml version="1.0" encoding="UTF-8"?>`,
        `<testsuites name="lectern" tests="7" failures="2" skipped="1" time="T">`,
        `  <testsuite name="${MISMATCH}" tests="3" failures="2" errors="0" skipped="0" time="T" timestamp="S">`,
        `    <testcase name="greeting" classname="${MISMATCH}" file="${MISMATCH}" line="3" time="T">`,
        `      <failure message="output does not match" type="output">--- expected`,
        `+++ actual`,
        `@@ -1,2 +1,2 @@`,
        `-hello there`,
        `+hello world`,
        ` second line`,
        `</failure>`,
        `      <system-out>hello world`,
        `second line`,
        `</system-out>`,
        `    </testcase>`,
        `    <testcase name="no-block" classname="${MISMATCH}" file="${MISMATCH}" line="12" time="T"/>`,
        `    <testcase name="crash" classname="${MISMATCH}" file="${MISMATCH}" line="16" time="T">`,
        `      <failure message="failed: it exited with status 1" type="failed">oops`,
        `</failure>`,
        `      <system-out>oops`,
        `</system-out>`,
        `    </testcase>`,
        `  </testsuite>`,
        `  <testsuite name="${PASS}" tests="4" failures="0" errors="0" skipped="1" time="T" timestamp="S">`,
        `    <testcase name="server" classname="${PASS}" file="${PASS}" line="3" time="T"/>`,
        `    <testcase name="client" classname="${PASS}" file="${PASS}" line="14" time="T"/>`,
        `    <testcase name="crash" classname="${PASS}" file="${PASS}" line="30" time="T"/>`,
        `    <testcase name="later" classname="${PASS}" file="${PASS}" line="38" time="T">`,
        `      <skipped/>`,
        `    </testcase>`,
        `  </testsuite>`,
        `</testsuites>`,
        ``,
      ].join("\n"),
    );
  }, 30_000);

  it("--junit escapes what a cell prints", async () => {
    const dir = tmp();
    const page = join(dir, "hostile.md");
    writeFileSync(page, '```ts name=h\nconsole.log(`<b a="1">&\'\\u0007</b>]]>`);\n```\n```output\nsafe\n```\n');
    const file = join(dir, "junit.xml");
    await lectern(["test", page, "--junit", file]);
    const xml = readFileSync(file, "utf8");
    expect(xml).toContain("+&lt;b a=&quot;1&quot;&gt;&amp;&apos;\uFFFD&lt;/b&gt;]]&gt;\n");
    expect(xml).not.toContain("<b ");
  }, 30_000);

  it("--update writes the blocks that changed or were missing, keeps the rest of the file, and leaves failing cells alone", async () => {
    const path = join(tmp(), "mismatch.md");
    copyFileSync(MISMATCH, path);
    const before = readFileSync(path, "utf8");
    const { code, stdout } = await lectern(["test", path, "--update"]);
    expect(stdout).toBe(
      [
        `✎ greeting  ${path}:3 (output block updated)`,
        `✎ no-block  ${path}:12 (output block added)`,
        `✗ crash  ${path}:16`,
        "  failed: it exited with status 1",
        "  │ oops",
        "2 passed, 1 failed",
        "",
      ].join("\n"),
    );
    expect(code).toBe(1);
    expect(readFileSync(path, "utf8")).toBe(
      before
        .replace("```output\nhello there\nsecond line\n```", "```output\nhello world\nsecond line\n```")
        .replace('console.log("anything");\n```\n', 'console.log("anything");\n```\n```output\nanything\n```\n'),
    );
    const again = await lectern(["test", path]);
    expect(again.stdout.split("\n").at(-2)).toBe("2 passed, 1 failed");
  }, 30_000);

  it("compares a server's transcript; --update writes its port as {port:NAME}, in a CRLF page, inside a list item", async () => {
    const path = join(tmp(), "server.md");
    const server = [
      "- A server:",
      "",
      "  ```ts name=srv server",
      '  import net from "node:net";',
      '  import { port } from "lectern";',
      '  const server = net.createServer((c) => c.end(() => console.log("served a client")));',
      '  server.listen(port("svc"), "127.0.0.1", () => console.log(`serving on ${port("svc")}`));',
      "  ```",
      "  ```output",
      "  serving on 1",
      "  served a client",
      "  ```",
      "",
      "```ts name=client",
      'import net from "node:net";',
      'import { port } from "lectern";',
      'net.connect(port("svc"), "127.0.0.1").resume();',
      "```",
      "```output",
      "```",
      "",
    ];
    writeFileSync(path, server.join("\r\n"));
    const first = await lectern(["test", path]);
    expect(first.stdout).toMatch(new RegExp(`^✗ srv  ${path}:3\n  output does not match the block at ${path}:9\n  --- expected\n  \\+\\+\\+ actual\n  @@ -1,2 \\+1,2 @@\n  -serving on 1\n  \\+serving on \\d+\n   served a client\n✓ client  ${path}:14\n1 passed, 1 failed\n$`));
    expect(first.code).toBe(1);

    const updated = await lectern(["test", path, "--update"]);
    expect(updated.stdout).toBe(`✎ srv  ${path}:3 (output block updated)\n✓ client  ${path}:14\n2 passed, 0 failed\n`);
    expect(readFileSync(path, "utf8")).toBe(server.join("\r\n").replace("serving on 1", "serving on {port:svc}"));

    const again = await lectern(["test", path]);
    expect(again.stdout).toBe(`✓ srv  ${path}:3\n✓ client  ${path}:14\n2 passed, 0 failed\n`);
    expect(again.code).toBe(0);
  }, 30_000);
});
