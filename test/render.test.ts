// Golden tests for render: test/fixtures/render/*.md with hand-built results -> the committed *.html.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { extractPage } from "../runner/extract.ts";
import { escapeHtml, formatDuration, frontMatter, pageSummary, pageTitle, renderIndex, renderPage, stripAnsi } from "../runner/render.ts";
import type { CellResult, Chunk, PageResult } from "../runner/types.ts";

const FIXTURES = new URL("./fixtures/render/", import.meta.url);
// `UPDATE_GOLDEN=1 npx vitest run test/render.test.ts` rewrites the expected files; never on CI.
const UPDATE = process.env["UPDATE_GOLDEN"] === "1" && !process.env["CI"];
const NAV = { index: "index.html", prev: { href: "intro.html", title: "Intro" }, next: { href: "tcp.html", title: "TCP <next>" }, css: "assets/lectern.css" };

function cell(name: string, line: number, fields: Partial<CellResult> & { chunks?: Chunk[] }): CellResult {
  const chunks = fields.chunks ?? [];
  return {
    name, line, status: "passed", exitCode: 0, signal: null, durationMs: 12, reason: null, errors: [], cached: false,
    output: chunks.map((c) => c.text).join(""),
    ...fields,
    chunks,
  };
}

function pageResult(path: string, cells: CellResult[]): PageResult {
  return { path, ports: { udp: 41234 }, cells, trace: [], startedAt: "2025-03-04T10:00:00.000Z", durationMs: 1432 };
}

const RESULTS: Record<string, PageResult | null> = {
  basic: pageResult("basic.md", [
    cell("udp-server", 10, {
      exitCode: null, signal: "SIGTERM", durationMs: 1200, reason: "stopped: every cell that needed it is done",
      chunks: [{ stream: "stdout", text: "The server is ready to receive\n" }],
    }),
    cell("udp-client", 24, {
      durationMs: 230,
      chunks: [
        { stream: "stdout", text: "Input lowercase sentence: " },
        { stream: "stdin", text: "hello there\n" },
        { stream: "stdout", text: "HELLO THERE\n" },
      ],
    }),
    cell("tcp-refused", 44, {
      exitCode: 1, durationMs: 80, errors: ["ECONNREFUSED"], cached: true,
      chunks: [{ stream: "stderr", text: "Error: connect ECONNREFUSED 127.0.0.1:1\n" }],
    }),
    cell("list-ports", 51, { exitCode: 1, status: "failed", durationMs: 1400, reason: "exit status 1, expected 0" }),
    cell("later", 67, { status: "skipped", exitCode: null, durationMs: 0 }),
  ]),
  hostile: pageResult("hostile.md", [
    cell("in-list", 7, {
      status: "failed", reason: `output differs: expected "this expected output" & got '</pre><script>'`,
      chunks: [{ stream: "stdout", text: "</pre><script>alert(1)</script>\n" }],
    }),
    cell("in-quote", 17, { exitCode: 3, chunks: [{ stream: "stderr", text: `<img src=x onerror=alert(1)> "'><\n` }] }),
    cell("escapes", 26, {
      status: "timeout", exitCode: null, signal: "SIGKILL", durationMs: 10_004, reason: "timed out after 10 s",
      chunks: [
        { stream: "stdout", text: "\x1b[31mred\x1b[0m \x1b]0;title\x07 done\n\x1b[" },
        { stream: "stdout", text: "2Kmore \x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\ \x9b1mbold\x1bc\r\n" },
        { stream: "stdin", text: "<kbd>\n" },
      ],
    }),
  ]),
  notrun: null,
};

async function golden(name: string, html: string): Promise<void> {
  const file = new URL(`${name}.html`, FIXTURES);
  if (UPDATE) await writeFile(file, html);
  expect(existsSync(file), `${name}.html is missing: run with UPDATE_GOLDEN=1`).toBe(true);
  expect(html).toBe(await readFile(file, "utf8"));
}

async function render(name: string): Promise<string> {
  const page = extractPage(`${name}.md`, await readFile(new URL(`${name}.md`, FIXTURES), "utf8"));
  return renderPage(page, RESULTS[name]!, NAV);
}

describe("renderPage golden files", () => {
  for (const name of Object.keys(RESULTS)) {
    it(`renders ${name}.md`, async () => golden(name, await render(name)));
  }
  it("renders the index", () =>
    golden(
      "index",
      renderIndex([
        { href: "basic.html", title: "UDP echo", summary: "A server & a client.", passed: 3, failed: 0, total: 4 },
        { href: "hostile.html", title: `"><script>alert(1)</script>`, summary: "<b>bold</b>", passed: 1, failed: 2, total: 3 },
        { href: "notrun.html", title: "Not run", summary: "", passed: 0, failed: 0, total: 1 },
      ]),
    ));
});

describe("hostile output", () => {
  it("comes out inert", async () => {
    const html = await render("hostile");
    expect(html).not.toMatch(/<script/i);
    // Escaped text and quoted attribute values may still read `onerror=`; no real tag may carry it.
    expect(html.replace(/="[^"]*"/g, '=""')).not.toMatch(/<[^>]*onerror/i);
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt; &quot;&#39;&gt;&lt;");
    expect(html).toContain("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toMatch(/href="javascript:/i);
    expect(html).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(html).toContain("red  done\nmore link bold\n");
  });

  it("renders cells inside a list item and a block quote, without their output fence", async () => {
    const html = await render("hostile");
    expect(html).toMatch(/<li>[\s\S]*<section class="cell" id="cell-in-list">[\s\S]*<\/li>/);
    expect(html).toMatch(/<blockquote>[\s\S]*<section class="cell" id="cell-in-quote">[\s\S]*<\/blockquote>/);
    expect(html).not.toContain("this expected output is not shown");
  });
});

describe("page metadata", () => {
  it("takes the title and summary from front matter, and does not render it", async () => {
    const page = extractPage("basic.md", await readFile(new URL("basic.md", FIXTURES), "utf8"));
    expect(pageTitle(page)).toBe("UDP echo, in two cells");
    expect(pageSummary(page)).toBe("A server that upper-cases what it receives, and a client that sends it a line.");
    const html = renderPage(page, null, NAV);
    expect(html).not.toContain("description:");
    expect(html).not.toContain("<hr>");
  });

  it("falls back to the first heading, the first paragraph and the file name", async () => {
    const page = extractPage("notrun.md", await readFile(new URL("notrun.md", FIXTURES), "utf8"));
    expect(pageTitle(page)).toBe("First heading becomes the title");
    expect(pageSummary(page).length).toBeLessThanOrEqual(201);
    expect(pageSummary(page)).toMatch(/^Just a paragraph .*\w…$/);
    expect(pageTitle(extractPage("notes/plain.md", "no heading here\n"))).toBe("plain");
    expect(pageTitle(extractPage("h.md", "# Sockets *and* `ports`\n"))).toBe("Sockets and ports");
  });

  it("reads only simple front matter, so a page that opens with a rule keeps its prose", () => {
    expect(frontMatter("---\ntitle: 'Quoted'\n# comment\n\nkey:\n---\nbody")).toEqual({ data: { title: "Quoted", key: "" }, lines: 6 });
    expect(frontMatter("---\nNot front matter, just a rule.\n---\n").lines).toBe(0);
    expect(frontMatter("---\ntitle: never closed\n").lines).toBe(0);
    expect(frontMatter("\r\n---\r\ntitle: x\r\n---\r\n").lines).toBe(0);
    expect(frontMatter("---\r\ntitle: x\r\n---\r\n")).toEqual({ data: { title: "x" }, lines: 3 });
  });
});

describe("helpers", () => {
  it("escapes for text and attributes", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("strips terminal sequences and control characters", () => {
    expect(stripAnsi("\x1b[1;32mok\x1b[0m\x1b[?25l \x1b]0;t\x1b\\x\x07\r\n")).toBe("ok x\n");
    expect(stripAnsi("\x1bc\x1b(B\x1b7a\x1bPq#0\x1b\\b\x9b2Jc\x1b")).toBe("abc");
  });

  it("formats durations", () => {
    expect([0.4, 12, 999.6, 1400, 59_949, 61_000, 3_600_000].map(formatDuration)).toEqual([
      "0 ms", "12 ms", "1.0 s", "1.4 s", "59.9 s", "1 min 1 s", "60 min 0 s",
    ]);
  });
});
