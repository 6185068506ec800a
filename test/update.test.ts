// `--update`: blocks written in place, every other byte of the page kept (CRLF, BOM, lists,
// block quotes), fences no output can close, ports written as {port:NAME}.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { extractPage } from "../runner/extract/extract.ts";
import { expectedText, outputBlock, rewriteBlocks, updatePage } from "../runner/doctest/update.ts";
import { lines, matches } from "../runner/doctest/expect.ts";
import { tmp } from "./helpers.ts";

/** Rewrites every cell of `raw` whose name is in `texts`. */
function rewrite(raw: string, texts: Record<string, string>): string {
  const page = extractPage("page.md", raw);
  return rewriteBlocks(raw, page, page.cells.filter((c) => c.name in texts).map((cell) => ({ cell, text: texts[cell.name]! })));
}

/** The expected text of each cell, read back by the real extractor. */
function blocks(raw: string): Record<string, string | null> {
  return Object.fromEntries(extractPage("page.md", raw).cells.map((c) => [c.name, c.expected?.text ?? null]));
}

describe("rewriteBlocks", () => {
  it("adds a block right after a cell and keeps every other byte", () => {
    const raw = "# Title\n\nProse.\n\n```ts name=a\nconsole.log(1);\n```\n\nMore prose.\n";
    expect(rewrite(raw, { a: "1\n" })).toBe("# Title\n\nProse.\n\n```ts name=a\nconsole.log(1);\n```\n```output\n1\n```\n\nMore prose.\n");
  });

  it("replaces an existing block, its fence and all, and only it", () => {
    const raw = "```ts name=a\nx\n```\n~~~~ output\nold\nlines\n~~~~\n\n```ts name=b\ny\n```\n```output\nkeep\n```\n";
    const out = rewrite(raw, { a: "new\n" });
    expect(out).toBe("```ts name=a\nx\n```\n```output\nnew\n```\n\n```ts name=b\ny\n```\n```output\nkeep\n```\n");
    expect(blocks(out)).toEqual({ a: "new\n", b: "keep\n" });
  });

  it("keeps CRLF line ends, in the page and in the new block", () => {
    const raw = "Intro\r\n\r\n```ts name=a\r\nx\r\n```\r\n```output\r\nold\r\n```\r\n\r\n```ts name=b\r\ny\r\n```\r\nEnd\r\n";
    const out = rewrite(raw, { a: "one\ntwo\n", b: "three\n" });
    expect(out).toBe("Intro\r\n\r\n```ts name=a\r\nx\r\n```\r\n```output\r\none\r\ntwo\r\n```\r\n\r\n```ts name=b\r\ny\r\n```\r\n```output\r\nthree\r\n```\r\nEnd\r\n");
    expect(blocks(out)).toEqual({ a: "one\ntwo\n", b: "three\n" });
  });

  it("puts the block inside the cell's list item, indented like the cell", () => {
    const raw = "1. First step:\n\n   ```ts name=a\n   console.log(1);\n   ```\n\n2. Second step.\n";
    const out = rewrite(raw, { a: "1\n\nafter a blank\n" });
    expect(out).toBe("1. First step:\n\n   ```ts name=a\n   console.log(1);\n   ```\n   ```output\n   1\n\n   after a blank\n   ```\n\n2. Second step.\n");
    expect(blocks(out)).toEqual({ a: "1\n\nafter a blank\n" });
  });

  it("puts the block inside the cell's block quote, > on every line", () => {
    const raw = "> Quoted:\n>\n> ```ts name=a\n> console.log(1);\n> ```\n\nAfter.\n";
    const out = rewrite(raw, { a: "1\n\n2\n" });
    expect(out).toBe("> Quoted:\n>\n> ```ts name=a\n> console.log(1);\n> ```\n> ```output\n> 1\n>\n> 2\n> ```\n\nAfter.\n");
    expect(blocks(out)).toEqual({ a: "1\n\n2\n" });
  });

  it("replaces a block inside a list nested in a block quote", () => {
    const raw = "> - item\n>\n>   ```ts name=a\n>   x\n>   ```\n>   ```output\n>   old\n>   ```\n";
    const out = rewrite(raw, { a: "new\n" });
    expect(out).toBe("> - item\n>\n>   ```ts name=a\n>   x\n>   ```\n>   ```output\n>   new\n>   ```\n");
    expect(blocks(out)).toEqual({ a: "new\n" });
  });

  it("writes a fence longer than any run of backticks in the output", () => {
    const text = "a ``` b\n````\n";
    const out = rewrite("```ts name=a\nx\n```\n", { a: text });
    expect(out).toBe("```ts name=a\nx\n```\n`````output\na ``` b\n````\n`````\n");
    expect(blocks(out)).toEqual({ a: text });
  });

  it("keeps a BOM, and a page that ends without a newline still does", () => {
    const out = rewrite("\uFEFF# T\n\n```ts name=a\nx\n```", { a: "1\n" });
    expect(out).toBe("\uFEFF# T\n\n```ts name=a\nx\n```\n```output\n1\n```");
  });

  it("writes an empty block for a cell that printed nothing", () => {
    expect(rewrite("```ts name=a\nx\n```\n", { a: "" })).toBe("```ts name=a\nx\n```\n```output\n```\n");
    expect(blocks("```ts name=a\nx\n```\n```output\n```\n")).toEqual({ a: "" });
  });

  it("round trips: writing back what a page expects changes no byte", () => {
    const raw = "Intro\r\n\r\n- item\r\n\r\n  ```ts name=a\r\n  x\r\n  ```\r\n  ```output\r\n  1\r\n  ```\r\n\r\n> ```ts name=b\r\n> y\r\n> ```\r\n> ```output\r\n> 2\r\n>\r\n> 3\r\n> ```\r\n";
    expect(rewrite(raw, { a: "1\n", b: "2\n\n3\n" })).toBe(raw);
  });

  it("builds the block from lines and a prefix", () => {
    expect(outputBlock("a\n\nb\n", "> ")).toEqual(["> ```output", "> a", ">", "> b", "> ```"]);
    expect(outputBlock("", "  ")).toEqual(["  ```output", "  ```"]);
  });
});

describe("expectedText", () => {
  it("writes the run's ports as {port:NAME}, whole numbers only", () => {
    expect(expectedText("ready on 127.0.0.1:41234\nfrom 127.0.0.1:412345 and 141234\nto 5000\n", { udp: 41234, tcp: 5000 })).toBe(
      "ready on 127.0.0.1:{port:udp}\nfrom 127.0.0.1:412345 and 141234\nto {port:tcp}\n",
    );
  });

  it("drops trailing whitespace, CR and trailing blank lines, and ends with a newline", () => {
    expect(expectedText("a  \r\nb\r\n\r\n", {})).toBe("a\nb\n");
    expect(expectedText("prompt: ", {})).toBe("prompt:\n");
    expect(expectedText("", {})).toBe("");
  });
});

describe("updatePage", () => {
  it("writes the file, and leaves a page edited meanwhile alone", async () => {
    const path = join(tmp(), "page.md");
    const raw = "```ts name=a\nx\n```\n";
    writeFileSync(path, raw);
    const page = extractPage(path, raw);
    expect(await updatePage(page, [{ cell: page.cells[0]!, text: "1\n" }])).toBe("written");
    expect(readFileSync(path, "utf8")).toBe("```ts name=a\nx\n```\n```output\n1\n```\n");
    writeFileSync(path, raw + "edited\n");
    expect(await updatePage(page, [{ cell: page.cells[0]!, text: "2\n" }])).toBe("changed");
    expect(readFileSync(path, "utf8")).toBe(raw + "edited\n");
  });
});

describe("expectedText with the block a cell had (test --update)", () => {
  const ports = { p: 41234 };
  // A small alphabet, so blocks and transcripts share lines often; a fixed seed, so a failure repeats.
  let seed = 21;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const actualLines = ["a", "b", "c", "port 41234", "x 17", "{any}"];
  const patternLines = ["a", "b", "c", "...", "{any}", "x {any}", "port {port:p}", "port 1", "\\{any}", "d"];
  const pick = (from: string[], n: number) => Array.from({ length: n }, () => from[random(from.length)]!);

  it("always matches the transcript, and leaves a block that matched as it was", () => {
    for (let k = 0; k < 2000; k++) {
      const previous = pick(patternLines, random(7)).join("\n") + "\n";
      const output = pick(actualLines, random(8)).join("\n") + "\n";
      const merged = expectedText(output, ports, previous);
      expect(matches(merged, output, ports), `${JSON.stringify(previous)} + ${JSON.stringify(output)} -> ${JSON.stringify(merged)}`).toBe(true);
      if (matches(previous, output, ports)) expect(merged).toBe(lines(previous).map((l) => l + "\n").join(""));
    }
  });

  it("keeps every line that still matches and changes only the one that differs", () => {
    const previous = "listening on {port:p}\npid {any}\n...\nline 5\nthe end\n";
    const output = "listening on 41234\npid 999\nline 1\nline 2\nline 5\nthe end, changed\n";
    expect(expectedText(output, ports, previous)).toBe("listening on {port:p}\npid {any}\n...\nline 5\nthe end, changed\n");
    // A line added in the middle comes in where it is; the wildcards around it stay.
    expect(expectedText("a 1\nnew 41234\nb 2\n", ports, "a {any}\nb {any}\n")).toBe("a {any}\nnew {port:p}\nb {any}\n");
    // A line that changed right after a `...` is replaced where it stood, not swallowed by the `...`.
    expect(expectedText("start\nline 1\nline 2\nNEW\nend\n", ports, "start\n...\nOLD\nend\n")).toBe("start\n...\nNEW\nend\n");
    expect(expectedText("start\nline 1\nline 2\nend\n", ports, "start\n...\nend\n")).toBe("start\n...\nend\n");
  });
});
