// lectern grade through the real command: real submissions (right, wrong, one that does not
// compile, one that hangs, one that floods, one that tries to read another student's work and
// to write into the page's folder) run in the sandbox against the page's check and server, each in
// a run of its own, into the gradebook: its CSV to the letter, its JUnit XML and its HTML report.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { lectern, ROOT } from "./command.ts";
import { cacheDir, tmp } from "./helpers.ts";

const PAGE = join(ROOT, "test/fixtures/grade/page/lab.md");
const FIXTURES = join(ROOT, "test/fixtures/grade/submissions");

describe("lectern grade", { timeout: 120_000 }, () => {
  const dir = tmp("lectern-grade-");
  const subs = join(dir, "submissions");
  const out = join(dir, "grades");
  let run: Awaited<ReturnType<typeof lectern>>;

  beforeAll(async () => {
    cpSync(FIXTURES, subs, { recursive: true });
    // It copies another student's answer by its path on this machine, and plants a file beside the page.
    mkdirSync(join(subs, "escape"));
    writeFileSync(join(subs, "escape", "shout.ts"), `import { readFileSync } from "node:fs";\nconsole.log(readFileSync(${JSON.stringify(join(subs, "right", "shout.ts"))}, "utf8"));\n`);
    writeFileSync(join(subs, "escape", "total.ts"), `import { writeFileSync } from "node:fs";\nwriteFileSync("planted.txt", "total: 16 bytes");\nconsole.log("total: 16 bytes");\n`);
    const names = ["right", "wrong.md", "broken", "hang", "flood", "escape"];
    run = await lectern(["grade", PAGE, ...names.map((n) => join(subs, n)), "--out", out, "--timeout", "2", "--max-output", "64K", "--cache", cacheDir], dir);
  }, 120_000);

  it("writes the gradebook: a row per submission, a column per exercise, each failure with a short reason", () => {
    expect(run.stderr).not.toContain("lectern:");
    expect(run.code).toBe(1);
    expect(readFileSync(join(out, "grades.csv"), "utf8")).toBe(
      [
        "submission,shout,total,passed,of",
        "right,passed,passed,2,2",
        "wrong,output differs,output differs,0,2",
        `broken,"does not compile: line 2: Unexpected "";""",passed,1,2`,
        "hang,timed out: still running after 2 s,passed,1,2",
        "flood,passed,failed: stopped: printed more than the output cap,1,2",
        "escape,failed: it exited with status 1 (ENOENT),failed: it exited with status 1 (EROFS),0,2",
        "",
      ].join("\r\n"),
    );
    expect(run.stdout).toContain("hang        ✗ timed out: still running after 2 s");
    expect(run.stdout.trimEnd().split("\n").at(-1)).toBe(`1 of 6 submissions passed every exercise; gradebook: ${join(out, "grades.csv")}, ${join(out, "grades.xml")}, ${join(out, "grades.html")}`);
  });

  it("kept every student's run apart: nothing was read from another submission or written beside the page", () => {
    const xml = readFileSync(join(out, "grades.xml"), "utf8");
    expect(xml).toContain("ENOENT: no such file or directory, open");
    expect(xml).not.toContain('socket.send("hello lab"');
    expect(existsSync(join(ROOT, "test/fixtures/grade/page/planted.txt"))).toBe(false);
    expect(readdirSync(join(ROOT, "test/fixtures/grade/page"))).toEqual(["lab.md"]);
  });

  it("writes JUnit XML with a testsuite per submission and an HTML report with each failure's diff, escaped", () => {
    const xml = readFileSync(join(out, "grades.xml"), "utf8");
    expect(xml).toMatch(/<testsuites name="lectern" tests="12" failures="7" skipped="0"/);
    expect(xml).toMatch(/<testsuite name="right" tests="2" failures="0"/);
    expect(xml).toContain(`<failure message="output does not match" type="output">--- expected\n+++ actual\n@@ -1 +1 @@\n-total: 16 bytes\n+total: &lt;b&gt;3&lt;/b&gt; bytes\n</failure>`);
    expect(xml).toContain(`<failure message="timeout: still running after 2 s" type="timeout">`);
    expect(xml).toContain(`<failure message="failed: does not compile: line 2: Unexpected &quot;;&quot;" type="failed"></failure>`);
    const html = readFileSync(join(out, "grades.html"), "utf8");
    expect(html).toContain(`<tr><th>right</th><td class="passed">✓ passed</td><td class="passed">✓ passed</td><td>2 of 2</td></tr>`);
    expect(html).toContain(`<span class="add">+total: &lt;b&gt;3&lt;/b&gt; bytes</span>`);
    expect(html).not.toContain("<b>3</b>");
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'`);
  });

  it("takes one NAME.ts file, and says which exercises a submission misses", async () => {
    const one = join(dir, "one");
    mkdirSync(one);
    cpSync(join(FIXTURES, "right", "total.ts"), join(one, "total.ts"));
    cpSync(PAGE, join(one, "lazy.md"));
    const r = await lectern(["grade", PAGE, join(one, "total.ts"), join(one, "lazy.md"), "--out", join(dir, "one-grades"), "--cache", cacheDir], dir);
    expect(r.code).toBe(1);
    expect(readFileSync(join(dir, "one-grades", "grades.csv"), "utf8")).toBe(
      ["submission,shout,total,passed,of", "total.ts,missing: no shout.ts,passed,1,2", "lazy,\"missing: the starter, unchanged\",\"missing: the starter, unchanged\",0,2", ""].join("\r\n"),
    );
  });

  it("refuses what it cannot grade safely or at all, with exit 2 and nothing written", async () => {
    const cases: [string[], string][] = [
      [[PAGE], "lectern: grade takes a PAGE and at least one SUBMISSION"],
      [[join(ROOT, "notebook/lec2-http-recap.md"), subs], "has no exercise cells (mark a starter cell with exercise)"],
      [[PAGE, join(dir, "nobody")], "nobody: no such submission"],
      [[PAGE, join(ROOT, "test/fixtures/grade/page")], "submissions must be outside the page's folder"],
      [[PAGE, join(subs, "right"), join(subs, "right")], 'two submissions are named "right"'],
      [[PAGE, join(FIXTURES, "right", "shout.ts"), join(subs, "wrong.md"), join(subs, "escape", "nope.ts")], "no such submission"],
    ];
    for (const [args, message] of cases) {
      const r = await lectern(["grade", ...args, "--out", join(dir, "refused"), "--cache", cacheDir], dir);
      expect(r.stderr, args.join(" ")).toContain(message);
      expect(r.code, args.join(" ")).toBe(2);
    }
    expect(existsSync(join(dir, "refused"))).toBe(false);
    const off = await lectern(["grade", PAGE, join(subs, "right"), "--out", join(dir, "refused"), "--cache", cacheDir], dir, { LECTERN_SANDBOX: "off" });
    expect(off.code).toBe(2);
    expect(off.stderr).toContain("lectern: grade runs students' programs only in a sandbox, and cells cannot be sandboxed on this machine (LECTERN_SANDBOX=off);");
    expect(existsSync(join(dir, "refused"))).toBe(false);
  });
});
