// Golden tests for render: test/fixtures/render/*.md with hand-built results -> the committed *.html.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { extractPage } from "../runner/extract/extract.ts";
import { escapeHtml, formatDuration, frontMatter, pageSummary, pageTitle, renderIndex, renderPage, stripAnsi, type PageContext } from "../runner/render/render.ts";
import { screen } from "../runner/render/ansi.ts";
import { transcriptHtml } from "../runner/render/output.ts";
import { RESULTS } from "./fixtures/render/results.ts";

const FIXTURES = new URL("./fixtures/render/", import.meta.url);
// `UPDATE_GOLDEN=1 npx vitest run test/render.test.ts` rewrites the expected files; never on CI.
const UPDATE = process.env["UPDATE_GOLDEN"] === "1" && !process.env["CI"];
const NAV: PageContext = {
  index: "index.html", assets: "assets/", siteTitle: "Networking <notes>", node: "v20.0.0",
  prev: { href: "intro.html", title: "Intro" }, next: { href: "tcp.html", title: "TCP <next>" },
  pages: [{ href: "index.html", title: "Networking <notes>" }, { href: "intro.html", title: "Intro" }, { href: "page.html", title: "This page" }, { href: "tcp.html", title: "TCP <next>" }],
  current: "page.html", sources: "src/page/", print: "print.html",
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
        { href: "basic.html", title: "UDP echo", summary: "A server & a client.", passed: 3, failed: 0, skipped: 1, total: 4 },
        { href: "hostile.html", title: `"><script>alert(1)</script>`, summary: "<b>bold</b>", passed: 1, failed: 2, skipped: 0, total: 3 },
        { href: "notrun.html", title: "Not run", summary: "", passed: 0, failed: 0, skipped: 0, total: 1 },
      ], { ...NAV, prev: null, next: null }),
    ));
});

describe("hostile output", () => {
  it("comes out inert", async () => {
    const html = await render("hostile");
    // The only script is the site's own, by file; no inline script, no handler attribute.
    expect(html.match(/<script[^>]*>/gi)).toEqual([`<script src="assets/lectern.js">`]);
    // Escaped text and quoted attribute values may still read `onerror=`; no real tag may carry it.
    expect(html.replace(/="[^"]*"/g, '=""')).not.toMatch(/<[^>]*\son\w+=/i);
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt; &quot;&#39;&gt;&lt;");
    expect(html).toContain("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toMatch(/href="\s*javascript:/i);
    expect(html).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(html).toContain(`<h1 id="hostile-script-alert-title-script-quotes">Hostile &lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;</h1>`);
    expect(html).toContain(`<title>Hostile &lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; &amp; &quot;quotes&quot; · Networking &lt;notes&gt;</title>`);
  });

  it("keeps http(s) links from the output, escaped, and drops every other scheme", async () => {
    const html = await render("hostile");
    expect(html).toContain(`<a class="ansi-link" href="https://example.com/?q=%22%3E%3Cscript%3E" rel="nofollow noopener noreferrer">quoted</a>`);
    expect(html).toContain("js link ");
    expect(html).not.toContain("alert(1)\">");
  });

  it("renders cells inside a list item and a block quote, without their output fence", async () => {
    const html = await render("hostile");
    expect(html).toMatch(/<li>[\s\S]*<section class="cell cell-failed" id="cell-in-list">[\s\S]*<\/li>/);
    expect(html).toMatch(/<blockquote>[\s\S]*<section class="cell cell-expected" id="cell-in-quote">[\s\S]*<\/blockquote>/);
    expect(html).not.toContain("this expected output is not shown");
  });
});

describe("cells", () => {
  it("badges each cell by how it ended", async () => {
    const html = await render("terminal");
    const badges = [...html.matchAll(/id="cell-([\w-]+)"[\s\S]*?<span class="status status-(\w+)">([^<]+)</g)].map((m) => `${m[1]}: ${m[2]} ${m[3]}`);
    expect(badges).toEqual([
      "colours: passed passed", "progress: passed passed", "two-lines: passed passed", "long: passed passed",
      "echo-server: stopped server stopped", "refused: expected expected failure", "slow: timeout timed out",
      "exits-2: expected expected failure", "silent: passed passed",
    ]);
  });

  it("shows stdin as typed input, stderr and a non-zero exit apart", async () => {
    const html = await render("basic");
    expect(html).toContain(`Input lowercase sentence: <kbd class="stdin">hello there</kbd>\nHELLO THERE</pre>`);
    expect(html).toContain(`<span class="stderr">Error: connect ECONNREFUSED 127.0.0.1:1</span>`);
    expect(html).toContain(`<span class="exit exit-nonzero">exit 1</span>`);
  });

  it("folds the middle of a long transcript into <details>, its first and last lines still visible", async () => {
    const html = await render("terminal");
    const long = html.slice(html.indexOf(`id="cell-long"`), html.indexOf(`id="cell-echo-server"`));
    expect(long).toContain("line 20</pre><details class=\"more\"><summary>Show 32 more lines <span class=\"size\">(");
    expect(long).toMatch(/<pre>\nline 21\n[\s\S]*line 52<\/pre><\/details><pre>\nline 53\n[\s\S]*line 60<\/pre><\/div>/);
  });

  it("keeps table-like output in columns, scrolling inside its block", () => {
    const ss = "State  Recv-Q Send-Q Local Address:Port  Peer Address:Port\nLISTEN 0      511    127.0.0.1:41234     0.0.0.0:*\nESTAB  0      0      127.0.0.1:41234     127.0.0.1:50000\n";
    expect(transcriptHtml([{ stream: "stdout", text: ss }])).toMatch(/^<div class="output output-table"><pre tabindex="0">\nState {2}Recv-Q/);
    expect(transcriptHtml([{ stream: "stdout", text: "hello  there\nplain prose, wrapped\nmore\n" }])).toMatch(/^<div class="output"><pre>/);
  });

  it("makes headings links to themselves, named by their own text, and an empty header cell a plain cell", () => {
    const html = renderPage(extractPage("h.md", "# T\n\n## Ports\n\n## See [RFC](https://x.org)\n\n| | UDP |\n| --- | --- |\n| port | 53 |\n"), null, NAV);
    expect(html).toContain(`<h2 id="ports"><a class="heading-link" href="#ports">Ports</a></h2>`);
    expect(html).toContain(`<h2 id="see-rfc">See <a href="https://x.org">RFC</a> <a class="anchor" href="#see-rfc" aria-hidden="true" tabindex="-1">#</a></h2>`);
    expect(html).toContain(`<tr>\n<td></td>\n<th>UDP</th>`);
  });

  it("lists the course with the current page marked, its contents under it, and offers the sources", async () => {
    const html = await render("terminal");
    expect(html).toMatch(/<nav class="course-side" aria-label="Course"><ol class="course-pages"><li><a href="index.html">Networking &lt;notes&gt;<\/a><\/li><li><a href="intro.html">Intro<\/a><\/li><li class="current"><a href="page.html" aria-current="page">This page<\/a><ol class="toc">/);
    expect(html).toContain(`<details class="course-menu"><summary>`);
    expect(html).toContain(`<a class="download" href="src/page/long.ts" download>long.ts</a>`);
    expect(html).toContain(`Built by Lectern from <a href="src/page/terminal.md" download>terminal.md</a>.`);
    expect(html).toContain(`<a href="print.html">The whole course on one page</a>`);
  });

  it("links the run summary to failed cells, and the table of contents to sections and cells", async () => {
    const html = await render("terminal");
    expect(html).toContain(`<strong>1 of 9 cells failed</strong> (8 passed)`);
    expect(html).toContain(`Failed: <a href="#cell-slow">slow</a>`);
    expect(html).toContain(`Node.js v20.0.0`);
    expect(html).toMatch(/<nav class="course-side"[^>]*>[\s\S]*<a href="#progress">Progress<\/a>[\s\S]*<ol><li><a href="#a-two-line-progress-display">/);
    // A mark per cell, its shape (not only its colour) saying how it ended, and said in words.
    expect(html).toContain(`<span class="mark mark-timeout" title="slow: timed out">◷</span>`);
    expect(html).toMatch(/<span class="visually-hidden">: [^<]*slow timed out/);
  });
});

describe("terminal output", () => {
  const show = (...chunks: string[]) => screen(chunks.map((text) => ({ stream: "stdout" as const, text }))).map((l) => l.map((s) => s.text).join(""));

  it("collapses carriage returns, erase-line and cursor-up as a terminal shows them", () => {
    expect(show("10%\r50%\r100%\n")).toEqual(["100%"]);
    expect(show("downloading 99%\r\x1b[Kdone\n")).toEqual(["done"]);
    expect(show("abc\rX\n")).toEqual(["Xbc"]);
    expect(show("a: 1\nb: 1\n\x1b[2A\x1b[2Ka: 2\n\x1b[2Kb: 2\n")).toEqual(["a: 2", "b: 2"]);
    expect(show("ab\bc\tx\n")).toEqual(["ac      x"]);
    expect(show("\x1b[5Cx", "\x1b[10Gy")).toEqual(["     x   y"]);
  });

  it("keeps colours across chunks and escape sequences cut in two", () => {
    const lines = screen([{ stream: "stdout", text: "\x1b[3" }, { stream: "stdout", text: "1mred\x1b[" }, { stream: "stdout", text: "0m plain" }]);
    expect(lines[0]!.map((s) => [s.text, s.style.fg])).toEqual([["red", 1], [" plain", null]]);
  });

  it("drops what it does not draw, also from a hostile program", () => {
    expect(stripAnsi("\x1b[1;32mok\x1b[0m\x1b[?25l \x1b]0;t\x1b\\x\x07\r\n")).toBe("ok x\n");
    expect(stripAnsi("\x1bc\x1b(B\x1b7a\x1bPq#0\x1b\\b\x9b2Jc\x1b")).toBe("abc");
    expect(stripAnsi("\x1b]0;never ends" + "x".repeat(5000))).toMatch(/^0;never endsx+$/);
    // A few bytes of cursor moves do not become megabytes of spaces.
    expect(stripAnsi("\x1b[999999999Cx\n".repeat(1000)).length).toBeLessThan(100_000);
  });

  it("reads 256-colour, 24-bit, inverse and link styles", () => {
    const [line] = screen([{ stream: "stderr", text: "\x1b[38;5;208ma\x1b[48:2::1:2:3mb\x1b[0;7mc\x1b]8;;https://nodejs.org\x07d\x1b]8;;\x07" }]);
    expect(line!.map((s) => ({ text: s.text, fg: s.style.fg, bg: s.style.bg, inverse: s.style.inverse, href: s.style.href, stream: s.style.stream }))).toEqual([
      { text: "a", fg: 208, bg: null, inverse: false, href: null, stream: "stderr" },
      { text: "b", fg: 208, bg: "#010203", inverse: false, href: null, stream: "stderr" },
      { text: "c", fg: null, bg: null, inverse: true, href: null, stream: "stderr" },
      { text: "d", fg: null, bg: null, inverse: true, href: "https://nodejs.org/", stream: "stderr" },
    ]);
  });

  // Not a benchmark: linear work takes milliseconds; the quadratic scan it replaced took minutes.
  it("reads a megabyte of unterminated escape sequences in bounded time", () => {
    const started = performance.now();
    const html = transcriptHtml([{ stream: "stdout", text: "\x1b]".repeat(500_000) + "\x07\nend\n" }]);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(html).toContain("end");
  });

  // Not a benchmark: a bound far above the linear time (~0.1 s) that a quadratic renderer would blow.
  it("renders a megabyte in bounded time", () => {
    const started = performance.now();
    const html = transcriptHtml([{ stream: "stdout", text: "\x1b[32mok\x1b[0m 0123456789012345678901234567890123456789\n".repeat(20_000) }]);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(html).toContain("Show 19,972 more lines");
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

  it("cuts a summary between sentences", () => {
    const long = `${"A first sentence that says what the page is about. ".repeat(3)}And a last one, long enough to go past the two hundred characters a summary may take.`;
    expect(pageSummary(extractPage("s.md", long))).toBe("A first sentence that says what the page is about. ".repeat(3).trim());
    expect(pageSummary(extractPage("s.md", `${"word ".repeat(120)}end.`))).toMatch(/^(word ){30,}word…$/);
  });

  it("falls back to the first heading, the first paragraph and the file name", async () => {
    const page = extractPage("notrun.md", await readFile(new URL("notrun.md", FIXTURES), "utf8"));
    expect(pageTitle(page)).toBe("First heading becomes the title");
    // One long sentence is kept whole rather than cut in the middle.
    expect(pageSummary(page)).toMatch(/^Just a paragraph .*keeps going past that\.$/);
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

  it("formats durations", () => {
    expect([0.4, 12, 999.6, 1400, 59_949, 61_000, 3_600_000].map(formatDuration)).toEqual([
      "0 ms", "12 ms", "1.0 s", "1.4 s", "59.9 s", "1 min 1 s", "60 min 0 s",
    ]);
  });
});
