// writeSite: the files of a built site, its relative links, and nothing fetched from the network.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { extractPage } from "../runner/extract/extract.ts";
import { outputNames, writeSite } from "../runner/render/site.ts";
import type { PageResult } from "../runner/types.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lectern-site-"));
  dirs.push(dir);
  return dir;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}

function result(path: string, statuses: ("passed" | "failed")[]): PageResult {
  const cells = statuses.map((status, i) => ({
    name: `cell-${i + 1}`, line: 3, status, exitCode: status === "passed" ? 0 : 1, signal: null, durationMs: 5,
    output: "hi\n", chunks: [{ stream: "stdout" as const, text: "hi\n" }], reason: null, errors: [], cached: false,
  }));
  return { path, ports: {}, cells, trace: [], startedAt: "2025-03-04T10:00:00.000Z", durationMs: 20 };
}

const PAGES = [
  { path: "notes/intro.md", text: "# Intro\n\nWhy sockets.\n\n```ts\nconsole.log('hi')\n```\n" },
  { path: "notes/udp/lab.md", text: "# UDP lab\n\nSee [the intro](intro.html).\n\n```ts\nconsole.log('hi')\n```\n\n```ts\nconsole.log('hi')\n```\n" },
  { path: "notes/tcp/lab.md", text: "# TCP lab\n\nSee [the RFC](https://www.rfc-editor.org/rfc/rfc793).\n" },
  { path: "notes/Übung 1.md", text: "Exercises, no heading.\n" },
];

function site(withIndex: boolean) {
  const pages = PAGES.map(({ path, text }) => {
    const page = extractPage(path, text);
    return { page, result: page.cells.length ? result(path, page.cells.map((_, i) => (i === 0 ? "passed" : "failed"))) : null };
  });
  if (withIndex) pages.unshift({ page: extractPage("notes/index.md", "# Socket programming\n\nStart here.\n"), result: null });
  return pages;
}

/** Every href and src in a page, with where it points on disk when it is relative. */
function links(html: string, file: string): { url: string; target: string | null }[] {
  return [...html.matchAll(/\s(?:href|src)="([^"]*)"/g)].map(([, raw]) => {
    const url = raw!.replaceAll("&amp;", "&");
    if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith("#")) return { url, target: null };
    return { url, target: resolve(dirname(file), decodeURIComponent(url.split("#")[0]!)) };
  });
}

describe("writeSite", () => {
  it("writes the index, every page with its sources, the course to print, the search and the assets, atomically", async () => {
    const out = await tempDir();
    const written = await writeSite(join(out, "site"), site(false));
    const files = await listFiles(join(out, "site"));
    expect(written.slice().sort()).toEqual(files);
    expect(files.map((f) => f.slice(out.length + 1)).sort()).toEqual(
      [
        "site/assets/lectern.css", "site/assets/lectern.js", "site/assets/minisearch.js", "site/assets/search-index.js",
        "site/index.html", "site/print.html", "site/intro.html", "site/tcp-lab.html", "site/udp-lab.html", "site/Übung-1.html",
        "site/src/intro/intro.md", "site/src/intro/cell-1.ts", "site/src/udp-lab/lab.md", "site/src/udp-lab/cell-1.ts", "site/src/udp-lab/cell-2.ts",
        "site/src/tcp-lab/lab.md", "site/src/Übung-1/Übung 1.md",
      ].sort(),
    );
    expect(written.at(-1)).toBe(join(out, "site", "index.html"));
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const css = await readFile(join(out, "site", "assets", "lectern.css"), "utf8");
    expect(css).toBe(await readFile(new URL("../runner/render/assets/lectern.css", import.meta.url), "utf8"));
    expect(css).not.toMatch(/url\(|@import/);
  });

  it("links the index to every page, in order, with its counts", async () => {
    const out = await tempDir();
    await writeSite(out, site(false));
    const index = await readFile(join(out, "index.html"), "utf8");
    const hrefs = links(index, join(out, "index.html")).map((l) => l.url);
    const course = ["index.html", "intro.html", "udp-lab.html", "tcp-lab.html", "%C3%9Cbung-1.html"];
    // The course in the narrow screen's menu, the title and the next page, the course beside the page, the list.
    expect(hrefs).toEqual([
      "data:,", "assets/lectern.css", "assets/lectern.js", "#content", ...course, "print.html", "index.html", "intro.html", ...course, "print.html",
      "intro.html", "udp-lab.html", "tcp-lab.html", "%C3%9Cbung-1.html", "intro.html",
    ]);
    expect(index).toContain(`<li class="current"><a href="index.html" aria-current="page">Lectern</a></li>`);
    expect(index).toMatch(/href="udp-lab.html">UDP lab<\/a>.*<span class="pill pill-passed">1 passed<\/span> <span class="pill pill-failed">1 failed<\/span>/);
    expect(index).toContain("<p class=\"summary\">Exercises, no heading.</p>");
  });

  it("resolves every relative link to a written file and fetches nothing from the network", async () => {
    const out = await tempDir();
    const written = await writeSite(out, site(false));
    for (const file of written.filter((f) => f.endsWith(".html"))) {
      const html = await readFile(file, "utf8");
      for (const { url, target } of links(html, file)) {
        if (target !== null) expect(existsSync(target), `${file}: ${url}`).toBe(true);
      }
      // Assets (stylesheets, scripts, images Lectern adds) are local; prose may still link out.
      expect(html).not.toMatch(/<link[^>]*href="https?:/i);
      expect(html).not.toMatch(/\ssrc="https?:/i);
      expect(html.match(/<script[^>]*>/gi)).toEqual([`<script src="assets/lectern.js">`]);
    }
    const udp = await readFile(join(out, "udp-lab.html"), "utf8");
    expect(udp).toMatch(/<a rel="prev" href="intro.html">.*Intro<\/span><\/a>/);
    expect(udp).toMatch(/<a rel="next" href="tcp-lab.html">.*TCP lab<\/span><\/a>/);
    const intro = await readFile(join(out, "intro.html"), "utf8");
    expect(intro).toMatch(/<a rel="prev" href="index.html">.*Lectern<\/span><\/a>/);
  });

  it("renders index.md as the index: its prose, then the other pages", async () => {
    const out = await tempDir();
    const written = await writeSite(out, site(true));
    expect(written.map((f) => f.slice(out.length + 1))).not.toContain("index-2.html");
    const index = await readFile(join(out, "index.html"), "utf8");
    expect(index).toContain("<title>Socket programming</title>");
    expect(index).toMatch(/<p>Start here.<\/p>[\s\S]*<h2 id="site-pages">More pages<\/h2>\n<ol class="page-list">[\s\S]*href="intro.html"/);
    expect(index).toMatch(/<a rel="next" href="intro.html">.*Intro<\/span><\/a>/);
    const udp = await readFile(join(out, "udp-lab.html"), "utf8");
    expect(udp).toContain(`<a class="site-title" href="index.html">Socket programming</a>`);
  });

  it("orders the pages as index.md links to them, by .md or .html name, and lists only the others again", async () => {
    const pages = site(false);
    pages.unshift({ page: extractPage("notes/index.md", "# Notes\n\n1. [TCP](tcp/lab.md)\n2. [UDP](udp-lab.html#top)\n3. [TCP again](tcp-lab.html)\n"), result: null });
    const files = new Map<string, string>();
    await writeSite("out", pages, async (path, data) => void files.set(path, data));
    const index = files.get(join("out", "index.html"))!;
    const side = index.slice(index.indexOf(`<nav class="course-side"`), index.indexOf("</nav>", index.indexOf(`<nav class="course-side"`)));
    expect([...side.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1])).toEqual(["index.html", "tcp-lab.html", "udp-lab.html", "intro.html", "%C3%9Cbung-1.html", "print.html"]);
    // The pages the prose links to get their counts beside the link, and are not listed twice.
    expect(index).toContain(`<a href="udp-lab.html#top">UDP</a> <span class="pill pill-passed">1 passed</span> <span class="pill pill-failed">1 failed</span>`);
    // A link to a page's Markdown goes to its HTML.
    expect(index).toContain(`<a href="tcp-lab.html">TCP</a> <span class="pill">no cells</span>`);
    const listed = [...index.matchAll(/class="page-link" href="([^"]+)"/g)].map((m) => m[1]);
    expect(listed).toEqual(["intro.html", "%C3%9Cbung-1.html"]);
    expect(files.get(join("out", "udp-lab.html"))).toMatch(/rel="prev" href="tcp-lab.html"[\s\S]*rel="next" href="intro.html"/);
  });

  it("takes its file writer from the caller", async () => {
    const files = new Map<string, string>();
    const written = await writeSite("out", site(false), async (path, data) => void files.set(path, data));
    expect([...files.keys()].sort()).toEqual(written.slice().sort());
    expect(written).toContain(join("out", "intro.html"));
  });
});

describe("outputNames", () => {
  it("keeps base names, and tells clashing ones apart by their folders, deterministically", () => {
    expect(outputNames(["a/intro.md", "b/x/lab.md", "b/y/lab.md", "c/Lab.md"])).toEqual(["intro", "b-x-lab", "b-y-lab", "c-Lab"]);
    expect(outputNames(["index.md", "x-lab.md", "x/lab.md", "y/lab.md"], ["index"])).toEqual(["index-2", "x-lab", "x-lab-2", "y-lab"]);
    expect(outputNames([".hidden.md", "a b?.md"])).toEqual(["hidden", "a-b"]);
  });
});
