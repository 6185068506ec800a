// Exercises on a page: how `exercise`, `solution=NAME` and ```hint are read and checked (each
// mistake named at its line), how the page shows them (the starter with its check, the hint and
// the solution folded), and `lectern test` holding each solution to its exercise's check.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LecternError } from "../runner/errors.ts";
import { extractPage } from "../runner/extract/extract.ts";
import { renderPage } from "../runner/render/render.ts";
import { searchDocuments } from "../runner/render/search.ts";
import { lectern } from "./command.ts";
import { cacheDir, tmp } from "./helpers.ts";

const LAB = "test/fixtures/grade/page/lab.md";
const fence = (info: string, body: string) => "```" + info + "\n" + body + "\n```\n\n";
const exercise = fence("ts name=ex exercise", 'console.log("todo");') + fence("output", "done");

function mistake(source: string): string {
  try {
    extractPage("p.md", source);
  } catch (err) {
    if (err instanceof LecternError) return `${err.file}:${err.line}: ${err.message} [${err.code}]`;
    throw err;
  }
  throw new Error("the page was accepted");
}

describe("reading exercises", () => {
  it("makes an exercise a starter that does not run, and holds its solution to the exercise's check", async () => {
    const page = extractPage(LAB, await readFile(LAB, "utf8"));
    const byName = new Map(page.cells.map((c) => [c.name, c]));
    expect(page.cells.map((c) => c.name)).toEqual(["echo", "shout", "shout-solution", "total", "total-solution"]);
    expect(byName.get("shout")!.attrs).toMatchObject({ exercise: true, skip: true });
    expect(byName.get("shout-solution")!.attrs.solution).toBe("shout");
    expect(byName.get("shout-solution")!.expected).toEqual(byName.get("shout")!.expected);
    expect(byName.get("shout-solution")!.expected!.text).toBe("reply: HELLO LAB\n");
  });

  it("names each mistake at its line", () => {
    expect(mistake(fence("ts solution=nope", "1;"))).toBe('p.md:1: solution=nope: this page has no cell "nope" (its exercises: none) [E_NEEDS_UNKNOWN]');
    expect(mistake(fence("ts name=a", "1;") + fence("ts solution=a", "1;"))).toBe('p.md:5: solution=a: cell "a" (line 1) is not an exercise: add exercise to its fence [E_ATTR_VALUE]');
    expect(mistake(exercise + fence("ts solution=ex", "1;") + fence("ts name=again solution=ex", "2;"))).toBe('p.md:13: exercise "ex" already has its solution at line 9 [E_NAME_DUPLICATE]');
    expect(mistake(fence("ts name=ex exercise", "1;"))).toMatch(/^p\.md:1: exercise "ex" has no output block: write what a right answer prints/);
    expect(mistake(fence("ts name=ex exercise server", "1;") + fence("output", "x"))).toMatch(/^p\.md:1: an exercise cannot be a server/);
    expect(mistake(fence("ts name=ex exercise solution=ex", "1;") + fence("output", "x"))).toBe("p.md:1: a cell is an exercise or a solution, not both [E_ATTR_VALUE]");
    expect(mistake(fence("ts name=a", "1;") + fence("hint", "try harder"))).toBe("p.md:5: a hint block goes right after an exercise cell (or after its output block) [E_EXERCISE]");
    expect(mistake(exercise + fence("hint", "one") + fence("ts name=b", "1;") + fence("hint", "two"))).toBe("p.md:17: a hint block goes right after an exercise cell (or after its output block) [E_EXERCISE]");
    // Prose may come between an exercise and its hints; so may a second hint.
    expect(() => extractPage("p.md", exercise + "Stuck?\n\n" + fence("hint", "one") + fence("hint", "two"))).not.toThrow();
    expect(mistake(fence("ts name=a solution=B!", "1;"))).toBe('p.md:1: solution=B!: "B!" is not a cell name [E_ATTR_VALUE]');
  });
});

describe("an exercise on the page", () => {
  const ctx = { index: "index.html", assets: "assets/", siteTitle: "Course", prev: null, next: null, node: "v20.0.0" };

  it("shows the starter with its check, and folds the hint (Markdown, escaped) and the solution", async () => {
    const source = (await readFile(LAB, "utf8")).replace("print the reply in", "print <b>the</b> reply in");
    const html = renderPage(extractPage(LAB, source), null, ctx);
    const starter = /<section class="cell cell-exercise" id="cell-shout">[\s\S]*?<\/section>/.exec(html)![0];
    expect(starter).toContain(`<span class="status status-exercise">exercise</span>`);
    expect(starter).toContain("reply: HELLO LAB");
    expect(starter).toContain("the check: what a right answer prints");
    expect(html).toContain(`<details class="hint"><summary>Hint</summary>\n<div class="hint-body"><p>A client needs no <code>bind</code>`);
    expect(html).toContain("print &lt;b&gt;the&lt;/b&gt; reply");
    expect(html).toMatch(/<details class="solution"><summary>Solution to <code>shout<\/code><\/summary>\n<section class="cell cell-notrun" id="cell-shout-solution">/);
    expect(html).toContain(`<span class="tag">solution to <a href="#cell-shout">shout</a></span>`);
    // Folded means closed until the reader opens it.
    expect(html).not.toMatch(/<details class="(hint|solution)" open/);
  });
});

describe("an exercise in the course's search", () => {
  it("finds the starter and the hint, never the solution's code", async () => {
    const docs = searchDocuments(extractPage(LAB, await readFile(LAB, "utf8")), "lab.html");
    const text = docs.map((d) => d.text).join("\n");
    expect(docs.map((d) => d.title)).toContain("shout");
    expect(docs.map((d) => d.title)).not.toContain("shout-solution");
    expect(text).toContain("A client needs no `bind`");
    expect(text).not.toContain("reduce((a, b) => a + b, 0)");
  });
});

describe("lectern test on an exercise page", { timeout: 60_000 }, () => {
  it("passes the page's solutions against their checks, and fails a solution that does not print what the check says", async () => {
    const ok = await lectern(["test", LAB, "--cache", cacheDir]);
    expect(ok.stdout).toContain("3 passed, 0 failed, 2 skipped");
    expect(ok.code).toBe(0);
    const dir = tmp();
    await writeFile(join(dir, "lab.md"), (await readFile(LAB, "utf8")).replace("reduce((a, b) => a + b, 0)", "length"));
    const bad = await lectern(["test", "lab.md", "--cache", cacheDir], dir);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("total-solution  lab.md:61\n  output does not match the block at lab.md:57\n");
    expect(bad.stdout).toContain("  -total: 16 bytes\n  +total: 3 bytes\n");
    expect(bad.stdout).toContain("2 passed, 1 failed, 2 skipped");
  });
});
