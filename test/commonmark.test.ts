// Cells are found where a CommonMark reader finds fences: every example of the CommonMark spec
// (commonmark-spec), as written, with CRLF line ends and inside a block quote, compared with the
// reference implementation (commonmark.js); then the cases that once differed, through `lectern list`.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Parser } from "commonmark";
import { describe, expect, it } from "vitest";
import { parseMarkdown } from "../runner/extract/markdown.ts";
import { tmp } from "./helpers.ts";

interface Fence {
  line: number;
  info: string;
  content: string;
}

const ours = (src: string): Fence[] =>
  parseMarkdown(src)
    .filter((t) => t.type === "fence")
    .map((t) => ({ line: t.map![0] + 1, info: t.info.trim(), content: t.content }));

function reference(src: string): Fence[] {
  const out: Fence[] = [];
  const walker = new Parser().parse(src).walker();
  for (let e = walker.next(); e; e = walker.next()) {
    // `_isFenced` tells a fence from an indented code block; commonmark.js has no public name for it.
    const node = e.node as typeof e.node & { _isFenced?: boolean };
    if (e.entering && node.type === "code_block" && node._isFenced) out.push({ line: node.sourcepos[0][0], info: (node.info ?? "").trim(), content: node.literal ?? "" });
  }
  return out;
}

const VARIANTS: Record<string, (s: string) => string> = {
  "as written": (s) => s,
  "with CRLF": (s) => s.replace(/\n/g, "\r\n"),
  "in a block quote": (s) => s.replace(/^(?=.)|^(?=\n)/gm, "> "),
};

// The package ships no types: its examples, as it exports them.
const spec = createRequire(import.meta.url)("commonmark-spec") as { tests: { markdown: string; number: number; section: string }[] };
const examples = spec.tests;

describe("fences where CommonMark finds them", () => {
  it("reads the spec package it was written for", () => {
    expect(examples.length).toBe(652);
  });

  for (const [variant, change] of Object.entries(VARIANTS)) {
    it(`agrees with commonmark.js on all 652 spec examples ${variant}`, () => {
      const differ = examples.filter((ex) => JSON.stringify(ours(change(ex.markdown))) !== JSON.stringify(reference(change(ex.markdown))));
      expect(differ.map((ex) => `example ${ex.number} (${ex.section})`)).toEqual([]);
    });
  }

  it("finds fences in the spec examples at all (a comparison of two empty lists proves nothing)", () => {
    const withFences = examples.filter((ex) => reference(ex.markdown).length > 0);
    expect(withFences.length).toBeGreaterThan(30);
  });
});

const BIN = join(fileURLToPath(new URL("..", import.meta.url)), "runner", "bin.mjs");

function list(source: string): Promise<{ code: number; stdout: string; stderr: string; path: string }> {
  const path = join(tmp(), "page.md");
  writeFileSync(path, source);
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, "list", path, "--json"], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr, path });
    });
  });
}

describe("lectern list finds the cells a reader sees", { timeout: 30_000 }, () => {
  it("leaves out a cell commented out with <!-- --> or inside an HTML block", async () => {
    const r = await list("<!--\n```ts name=old\nconsole.log(1)\n```\n-->\n\n<div>\n```ts name=boxed\nconsole.log(2)\n```\n</div>\n\n```ts name=real\nconsole.log(3)\n```\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).cells.map((c: { name: string; line: number }) => [c.name, c.line])).toEqual([["real", 13]]);
  });

  it("decodes entities and backslash escapes in an info string", async () => {
    const r = await list("```&#116;s name=a\nconsole.log(1)\n```\n\n```\\ts name=b\nconsole.log(2)\n```\n\n```ts name=c stdin=\"x&amp;y\"\nconsole.log(3)\n```\n");
    expect(r.code).toBe(0);
    const cells = JSON.parse(r.stdout).cells as { name: string; lang: string }[];
    // `\t` is an escaped t (punctuation only is escapable, so `\ts` stays as written: not a cell).
    expect(cells.map((c) => [c.name, c.lang])).toEqual([["a", "ts"], ["c", "ts"]]);
  });

  it("does not take a closer indented four spaces past the fence (spec example 137) as the end of a cell", async () => {
    const r = await list("```ts name=a\nconsole.log(1)\n    ```\n");
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`lectern: ${r.path}:1: this cell's fence is never closed: end it with \`\`\` [E_FENCE_UNCLOSED]\n`);
    expect(r.code).toBe(2);
  });

  it("closes a fence with a closer indented up to three spaces, in a list item too", async () => {
    const r = await list("- item\n\n  ```ts name=a\n  console.log(1)\n     ```\n");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).cells.map((c: { name: string }) => c.name)).toEqual(["a"]);
  });
});
