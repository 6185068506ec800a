// The built site in a real browser (Debian's Chromium through playwright-core), from file:// and
// over HTTP: nothing leaves the site, hostile output stays text, navigation, search, folding,
// copying, the theme toggle and phone width work, and axe-core finds no accessibility violation on
// any page, light and dark, wide and narrow. With $LECTERN_SCREENSHOTS set, screenshots go there.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { chromium, type Browser, type BrowserContext, type Page as Tab } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractPage, readPage } from "../runner/extract/extract.ts";
import { createLimiter } from "../runner/execute/limit.ts";
import { planPage } from "../runner/plan/plan.ts";
import { serve as preview } from "../runner/cli/preview.ts";
import { writeSite } from "../runner/render/site.ts";
import type { Chunk } from "../runner/types.ts";
import { cellResult, manyLines, pageResult, RESULTS } from "./fixtures/render/results.ts";
import { ARGS, CHROMIUM, haveChromium, onCi, watch } from "./chromium.ts";

const FIXTURES = new URL("./fixtures/render/", import.meta.url);

if (!haveChromium && !onCi) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

// On CI a missing browser is a failure, never a skip.
it("has Chromium where CI needs it", () => {
  if (onCi) expect(haveChromium, `${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`).toBe(true);
});

const PAGES = ["index.html", "basic.html", "terminal.html", "hostile.html", "megabyte.html", "notrun.html", "columns.html", "print.html"];
// axe-core from npm, run in the page by the test (not by a <script>: the page's own CSP stays as it is).
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"];

/** index.md, the render fixtures, and a page whose one cell printed a megabyte. */
async function buildSite(out: string): Promise<void> {
  const fixture = async (name: string) => extractPage(`${name}.md`, await readFile(new URL(`${name}.md`, FIXTURES), "utf8"));
  const index = extractPage(
    "index.md",
    "# Networking notes\n\nRunnable lecture notes. Start with [the terminal page](terminal.md), then [UDP](basic.html).\n",
  );
  const bigChunks: Chunk[] = [{ stream: "stdout", text: "\x1b[32mstarting\x1b[0m\n" }, ...manyLines(16_000, 56)];
  // A table and a transcript in columns, both wider than a phone: they scroll inside their blocks.
  const columns = extractPage(
    "columns.md",
    "# Columns on a phone\n\n| | UDP | TCP |\n| --- | --- | --- |\n| module | `socket(AF_INET, SOCK_DGRAM)` | `socket(AF_INET, SOCK_STREAM)` then `connect((host, port))` |\n\n" +
      "```sh name=sockets\nss -tan\n```\n\n" +
      "A cell whose comment is as long as lec3's longest lines.\n\n" +
      "```ts name=wide\n// A new connection socket for this one client; the welcome socket keeps listening for the next one.\nconsole.log(1);\n```\n",
  );
  const big = extractPage("megabyte.md", "# A megabyte of output\n\nA cell that prints about a megabyte.\n\n```ts name=big\nfor (let i = 1; i <= 16000; i++) console.log(`line ${i} ${\"x\".repeat(56)}`);\n```\n");
  await writeSite(out, [
    { page: index, result: null },
    { page: await fixture("basic"), result: RESULTS["basic"]! },
    { page: await fixture("hostile"), result: RESULTS["hostile"]! },
    { page: await fixture("terminal"), result: RESULTS["terminal"]! },
    { page: big, result: pageResult("megabyte.md", [cellResult("big", 5, { durationMs: 900, chunks: bigChunks })]) },
    { page: await fixture("notrun"), result: null },
    { page: columns, result: pageResult("columns.md", [cellResult("sockets", 7, { chunks: [{ stream: "stdout", text: SS }] }), cellResult("wide", 13, { chunks: [{ stream: "stdout", text: "1\n" }] })]) },
  ]);
}

/** What `ss -tan` printed: columns, wider than a phone. */
const SS =
  "first got:  HELLO FROM THE FIRST CONNECTION\n" +
  "State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process\n" +
  "LISTEN 0      511        127.0.0.1:49951      0.0.0.0:*           \n" +
  "ESTAB  0      0          127.0.0.1:49951    127.0.0.1:57662       \n";

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript" };

function serve(root: string): Promise<Server> {
  const server = createServer(async (req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    const file = path.endsWith(sep) ? join(path, "index.html") : path;
    try {
      if (!file.startsWith(root + sep)) throw new Error("outside");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// A loaded CI machine can take seconds per page load: the steps are bounded, not timed.
// A new tab costs a renderer process (most of a second on a loaded two-core machine), a new
// context more: tests that need nothing of their own share one tab, which each visit resets
// (its size, its media, what it saw); the others open a context of their own.
describe.runIf(haveChromium)("the built site in Chromium", { timeout: 60_000 }, () => {
  let browser: Browser;
  let out: string;
  let base: string;
  let server: Server;
  let shots: string | undefined;
  /** The shared tabs: one with JavaScript, one without, each watched from its start. */
  let shared: Watched;
  let plain: Watched;
  /** `lectern build` of a real page, started with the browser: the test that shows it waits for it. */
  let realBuild: Promise<unknown>;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), "lectern-browser-"));
    shots = process.env["LECTERN_SCREENSHOTS"];
    if (shots) await mkdir(shots, { recursive: true });
    const bin = new URL("../runner/bin.mjs", import.meta.url).pathname;
    realBuild = promisify(execFile)(process.execPath, [bin, "build", new URL("real.md", FIXTURES).pathname, "--out", join(out, "real"), "--cache", join(out, "cache")], { cwd: out });
    realBuild.catch(() => {}); // awaited (and so reported) by its test
    [browser] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ARGS }), buildSite(join(out, "site"))]);
    base = pathToFileURL(join(out, "site")).href + "/";
    server = await serve(join(out, "site"));
    const js = await browser.newContext();
    await js.grantPermissions(["clipboard-read", "clipboard-write"]);
    shared = await watched(js);
    plain = await watched(await browser.newContext({ javaScriptEnabled: false }));
  }, 60_000);

  interface Watched {
    tab: Tab;
    problems: string[];
    requests: string[];
  }
  /** A tab whose every request is kept: each visit holds them to its own site. */
  async function watched(context: BrowserContext): Promise<Watched> {
    const tab = await context.newPage();
    return { tab, ...watch(tab, "") };
  }

  /** A screenshot, kept only where $LECTERN_SCREENSHOTS asks for them. */
  async function shoot(tab: Tab, name: string, fullPage = false) {
    if (shots) await tab.screenshot({ path: join(shots, name), fullPage });
  }

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(null)));
    await rm(out, { recursive: true, force: true });
  });

  async function open(context: BrowserContext, url: string, site = base) {
    const tab = await context.newPage();
    const seen = watch(tab, site);
    await tab.goto(url, { waitUntil: "load" });
    return { tab, ...seen };
  }

  /**
   * A shared tab (with JavaScript unless `on` is `plain`) on `url`, as a fresh tab would be:
   * 1400x900 unless told, screen, light, nothing seen yet. `all` is what went wrong: errors,
   * dialogs, and any request outside `site`.
   */
  async function visit(url: string, site = base, viewport = { width: 1400, height: 900 }, on = shared) {
    // What the last test left loading (a click's navigation) ends first: leaving it half-loaded
    // would abort its requests, and this visit would see those as its own failures.
    await on.tab.waitForLoadState("load");
    await on.tab.setViewportSize(viewport);
    await on.tab.emulateMedia({ media: "screen", colorScheme: "light" });
    on.problems.length = 0;
    on.requests.length = 0;
    await on.tab.goto(url, { waitUntil: "load" });
    const outside = () => on.requests.filter((r) => !r.startsWith(site)).map((r) => `request outside the site: ${r}`);
    return { tab: on.tab, requests: on.requests, get all() { return [...on.problems, ...outside()]; } };
  }

  /** What loading `name` from `site` may request: the page, its stylesheet and its script (search loads on first use). */
  const expectOwnRequests = (requests: string[], site: string, name: string) =>
    expect(requests.map((r) => r.slice(site.length)).sort(), name).toEqual(["assets/lectern.js", "assets/lectern.css", name].sort());

  it("loads every page over HTTP with no error, no dialog and no request leaving the site", async () => {
    const http = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    // (Every page from file:// is the per-page test below.)
    for (const name of PAGES) {
      const { tab, requests, all } = await visit(http + name, http);
      expect(all, `${http}${name}`).toEqual([]);
      expectOwnRequests(requests, http, name);
      expect(await tab.evaluate(() => getComputedStyle(document.body).fontFamily)).toMatch(/system-ui/);
    }
  }, 120_000);

  it("shows hostile output as text: no dialog, no injected element, only http(s) links", async () => {
    const { tab, all } = await visit(base + "hostile.html");
    const found = await tab.evaluate(() => ({
      scripts: [...document.scripts].map((s) => s.getAttribute("src")),
      injected: document.querySelectorAll("main img, main iframe, main object, main embed, main svg, main form").length,
      handlers: [...document.querySelectorAll("*")].flatMap((el) => [...el.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${el.tagName} ${a.name}`)),
      schemes: [...new Set([...document.querySelectorAll("a[href]")].map((a) => (a as HTMLAnchorElement).protocol))].sort(),
      text: document.querySelector("#cell-in-list .output")?.textContent,
    }));
    expect(found).toEqual({ scripts: ["assets/lectern.js"], injected: 0, handlers: [], schemes: ["file:", "https:"], text: "</pre><script>alert(1)</script>" });
    // Clicking every output link and summary fires nothing either.
    for (const summary of await tab.locator("main summary").all()) await summary.click();
    expect(all).toEqual([]);
  });

  it("navigates from the index through the pages, the contents and the cell links", async () => {
    const { tab, all } = await visit(base + "index.html", base, { width: 1280, height: 800 });
    // The course lists the pages in the order index.md links them; the index lists only the ones its prose does not link.
    const course = ["Networking notes", "What terminals print", "UDP echo, in two cells", "Hostile <script>alert(\"title\")</script> & \"quotes\"", "A megabyte of output", "First heading becomes the title", "Columns on a phone"];
    expect(await tab.locator(".course-side .course-pages > li > a").allTextContents()).toEqual(course);
    expect(await tab.locator(".course-side [aria-current=page]").textContent()).toBe("Networking notes");
    expect(await tab.locator(".page-list .page-link").allTextContents()).toEqual(course.slice(3));
    expect(await tab.locator("article p .pill-failed").first().textContent()).toBe("1 failed");
    await tab.locator("article a", { hasText: "the terminal page" }).click();
    expect(tab.url()).toBe(base + "terminal.html");
    await tab.locator(".pager a[rel=next]").click();
    expect(tab.url()).toBe(base + "basic.html");
    await tab.locator(".pager a[rel=prev]").click();
    expect(tab.url()).toBe(base + "terminal.html");
    expect(await tab.locator(".course-side [aria-current=page]").textContent()).toBe("What terminals print");
    await tab.locator(".course-side .toc a", { hasText: "Servers and failures" }).click();
    expect(tab.url()).toBe(base + "terminal.html#servers-and-failures");
    expect(await tab.locator("#servers-and-failures").isVisible()).toBe(true);
    // The contents mark the section being read.
    await expect.poll(() => tab.locator(".course-side .toc a[aria-current=location]").textContent()).toBe("Servers and failures");
    expect(await tab.locator("#servers-and-failures").evaluate((h) => h.textContent)).toBe("Servers and failures");
    await tab.locator(".run-summary a", { hasText: "slow" }).click();
    expect(tab.url()).toBe(base + "terminal.html#cell-slow");
    expect(await tab.evaluate(() => Math.round(document.querySelector("#cell-slow")!.getBoundingClientRect().top))).toBeLessThan(40);
    await tab.locator(".pager a[rel=next]").click();
    await tab.locator(".site-title").click();
    expect(tab.url()).toBe(base + "index.html");
    expect(all).toEqual([]);
  });

  it("folds long outputs until asked, showing their first and last lines, and unfolds a megabyte", async () => {
    const { tab, all } = await visit(base + "megabyte.html");
    const more = tab.locator("#cell-big details.more");
    expect(await tab.locator("#cell-big .output > pre").first().textContent()).toMatch(/^starting\nline 1 x+\n[\s\S]*line 19 x+$/);
    expect(await tab.locator("#cell-big .output > pre").last().textContent()).toMatch(/^line 15993 x+\n[\s\S]*line 16000 x+$/);
    expect(await tab.locator("#cell-big .output > pre").last().isVisible()).toBe(true);
    expect(await more.locator("pre").isVisible()).toBe(false);
    expect(await more.locator("summary").textContent()).toMatch(/^Show 15,973 more lines \(\d\.\d MB\)$/);
    await more.locator("summary").click();
    expect(await more.locator("pre").isVisible()).toBe(true);
    expect(await more.locator("pre").textContent()).toMatch(/^line 20 x+\n[\s\S]*line 15992 x+$/);
    expect(all).toEqual([]);
  });

  it("copies code with JavaScript, and reads fine without it", async () => {
    const { tab, all } = await visit(base + "basic.html");
    const blocks = await tab.locator("div.code").count();
    expect(await tab.locator("button.copy").count()).toBe(blocks);
    // A cell's button is in its header; a plain code block's shows in its corner on hover.
    expect(await tab.locator(".cell-header button.copy").count()).toBe(await tab.locator(".cell div.code").count());
    await tab.locator("main > article > div.code").first().hover();
    expect(await tab.locator("main > article > div.code button.copy").first().isVisible()).toBe(true);
    const button = tab.locator("#cell-udp-client button.copy");
    await button.click();
    await expect.poll(() => button.textContent()).toBe("Copied");
    const code = await tab.locator("#cell-udp-client code").textContent();
    expect(await tab.evaluate(() => navigator.clipboard.readText())).toBe(code);
    expect(all).toEqual([]);

    const noJs = await visit(base + "terminal.html", base, undefined, plain);
    expect(await noJs.tab.locator("button").count()).toBe(0);
    expect(await noJs.tab.locator("#cell-colours .output").isVisible()).toBe(true);
    expect(await noJs.tab.locator("#cell-colours code").isVisible()).toBe(true);
    await noJs.tab.locator("#cell-long summary").click();
    expect(await noJs.tab.locator("#cell-long details pre").isVisible()).toBe(true);
    expect(noJs.all).toEqual([]);
  });

  it("follows the dark theme, fits a phone, and prints without the navigation", async () => {
    const background = async (scheme: "light" | "dark") => {
      const { tab, all } = await visit(base + "terminal.html", base, { width: 1280, height: 900 });
      await tab.emulateMedia({ colorScheme: scheme });
      await shoot(tab, `terminal-${scheme}.png`);
      await tab.goto(base + "index.html");
      await shoot(tab, `index-${scheme}.png`);
      await tab.goto(base + "terminal.html");
      await tab.emulateMedia({ colorScheme: scheme === "dark" ? "light" : "dark" });
      const flipped = await tab.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await tab.emulateMedia({ colorScheme: scheme });
      const color = await tab.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(all).toEqual([]);
      return { color, flipped };
    };
    const light = await background("light");
    const dark = await background("dark");
    expect(light.color).not.toBe(dark.color);
    expect(light.flipped).toBe(dark.color);
    expect(dark.color).toBe("rgb(18, 20, 24)");

    const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const tab = await phone.newPage();
    const { problems } = watch(tab, base);
    for (const name of PAGES) {
      await tab.goto(base + name, { waitUntil: "load" });
      const sizes = await tab.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth, body: document.body.scrollWidth }));
      expect(sizes.scroll, `${name} scrolls sideways`).toBeLessThanOrEqual(sizes.width);
      expect(sizes.body, name).toBeLessThanOrEqual(sizes.width);
      if (name === "columns.html") {
        // A table and `ss` output wider than the phone scroll inside their own blocks (not wrapped
        // into nonsense: a wrapped block never overflows), and the keyboard can reach them.
        expect(await tab.evaluate(() => ["article table", "#cell-sockets .output pre"].map((sel) => {
          const el = document.querySelector(sel) as HTMLElement;
          return { sel, scrolls: el.scrollWidth > el.clientWidth, tabIndex: el.tabIndex };
        }))).toEqual([{ sel: "article table", scrolls: true, tabIndex: 0 }, { sel: "#cell-sockets .output pre", scrolls: true, tabIndex: 0 }]);
        await shoot(tab, "columns-phone.png");
      }
      if (name === "terminal.html" || name === "index.html") await shoot(tab, `${name.replace(".html", "")}-phone.png`);
      expect(problems, name).toEqual([]);
    }
    await phone.close();
    const print = await visit(base + "basic.html");
    await print.tab.emulateMedia({ media: "print" });
    expect(await print.tab.locator(".site-header").isVisible()).toBe(false);
    await shoot(print.tab, "basic-print.png", true);
  }, 120_000);

  it("gives cells the width beside the prose at 1400 pixels, and at 375 scrolls a long line in its block with a sign at the edge", async () => {
    const { tab, all } = await visit(base + "columns.html");
    const measure = () => tab.evaluate(() => {
      const pre = document.querySelector("#cell-wide pre") as HTMLElement;
      const prose = document.querySelector("article > p") as HTMLElement;
      return { cut: pre.scrollWidth > pre.clientWidth, wider: pre.getBoundingClientRect().width > prose.getBoundingClientRect().width, sign: getComputedStyle(pre).backgroundImage.includes("radial-gradient"), tabIndex: pre.tabIndex };
    });
    expect(await measure()).toEqual({ cut: false, wider: true, sign: true, tabIndex: 0 });
    await tab.setViewportSize({ width: 375, height: 740 });
    expect(await measure()).toMatchObject({ cut: true, sign: true, tabIndex: 0 });
    expect(all).toEqual([]);
  });

  it("searches every page offline, from file://, under the pages' own policy, keyboard first", async () => {
    const { tab, all, requests } = await visit(base + "notrun.html");
    const input = tab.locator("#search");
    // `/` focuses the box; the library and the index come from the site on first use.
    await tab.keyboard.press("/");
    expect(await tab.evaluate(() => document.activeElement?.id)).toBe("search");
    await expect.poll(() => requests.filter((r) => /assets\/(minisearch|search-index)\.js$/.test(r)).length).toBe(2);
    // A heading, on another page.
    await input.fill("server");
    const results = tab.locator("#search-results a");
    await expect.poll(() => results.count()).toBeGreaterThan(0);
    expect(await results.evaluateAll((as) => as.map((a) => a.getAttribute("href")))).toContain("terminal.html#servers-and-failures");
    // A cell by its code, linked as #cell-NAME: "createSocket" is only in udp-server's and udp-client's code.
    await input.fill("createSock");
    await expect.poll(async () => (await results.evaluateAll((as) => as.map((a) => a.getAttribute("href")))).sort()).toEqual(["basic.html#cell-udp-client", "basic.html#cell-udp-server"]);
    expect(await tab.locator("#search-results [role=status]").textContent()).toBe("2 results");
    // Prose, and a cell name; the arrow keys and Enter open a result.
    await input.fill("megabyte");
    await expect.poll(() => results.first().getAttribute("href")).toBe("megabyte.html");
    await input.fill("echo-server");
    await expect.poll(() => results.first().getAttribute("href")).toBe("terminal.html#cell-echo-server");
    await tab.keyboard.press("ArrowDown");
    expect(await tab.evaluate(() => document.activeElement?.getAttribute("href"))).toBe("terminal.html#cell-echo-server");
    await tab.keyboard.press("Enter");
    await tab.waitForURL(base + "terminal.html#cell-echo-server");
    await input.fill("zzzqqq");
    await expect.poll(() => tab.locator("#search-results [role=status]").textContent()).toBe("No results");
    await tab.keyboard.press("Escape");
    expect(await tab.locator("#search-results").isVisible()).toBe(false);
    expect(all).toEqual([]);
  });

  it("remembers a theme chosen with the toggle over the system's", async () => {
    const context = await browser.newContext({ colorScheme: "light" });
    const { tab, problems } = await open(context, base + "basic.html");
    const toggle = tab.locator("button.theme-toggle");
    expect(await toggle.getAttribute("aria-pressed")).toBe("false");
    const light = await tab.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await toggle.click();
    expect(await toggle.getAttribute("aria-pressed")).toBe("true");
    expect(await tab.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(18, 20, 24)");
    // Another page of the site, still dark; and code and output stay apart.
    await tab.goto(base + "terminal.html");
    expect(await tab.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(18, 20, 24)");
    const [code, output] = await tab.evaluate(() => [getComputedStyle(document.querySelector("#cell-colours pre")!).backgroundColor, getComputedStyle(document.querySelector("#cell-colours .output")!).backgroundColor]);
    expect(code).not.toBe(output);
    await tab.locator("button.theme-toggle").click();
    expect(await tab.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(light);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("offers each cell's source and the page's Markdown as files, and the whole course on one page", async () => {
    const { tab, all } = await visit(base + "basic.html");
    const href = await tab.locator("#cell-udp-client a.download").getAttribute("href");
    expect(href).toBe("src/basic/udp-client.ts");
    expect(await readFile(join(out, "site", href!), "utf8")).toBe(await tab.locator("#cell-udp-client code").textContent());
    expect(await readFile(join(out, "site", "src/basic/basic.md"), "utf8")).toBe(await readFile(new URL("basic.md", FIXTURES), "utf8"));
    await tab.locator(".course-side a", { hasText: "The whole course on one page" }).click();
    expect(tab.url()).toBe(base + "print.html");
    // A megabyte of one page's output is in it: wait for all of it.
    await tab.waitForLoadState("load");
    // Every page, in reading order, with ids that do not clash.
    expect(await tab.locator(".print-page h1").allTextContents()).toEqual(["Networking notes", "What terminals print", "Sockets: UDP", "Hostile <script>alert(\"title\")</script> & \"quotes\"", "A megabyte of output", "First heading becomes the title", "Columns on a phone"]);
    expect(await tab.evaluate(() => { const ids = [...document.querySelectorAll("[id]")].map((e) => e.id); return ids.length - new Set(ids).size; })).toBe(0);
    expect(await tab.locator("#basic--cell-udp-client .cell-name").getAttribute("href")).toBe("#basic--cell-udp-client");
    expect(all).toEqual([]);
  });

  it("opens the course menu on a phone, without JavaScript too", async () => {
    const { tab, all } = await visit(base + "basic.html", base, { width: 375, height: 740 }, plain);
    expect(await tab.locator(".course-side").isVisible()).toBe(false);
    await tab.locator(".course-menu summary").click();
    const current = tab.locator(".course-menu [aria-current=page]");
    expect(await current.isVisible()).toBe(true);
    expect(await current.textContent()).toBe("UDP echo, in two cells");
    await tab.locator(".course-menu a", { hasText: "What terminals print" }).click();
    expect(tab.url()).toBe(base + "terminal.html");
    expect(all).toEqual([]);
  });

  // Every page from file://: nothing but its own stylesheet and script; then WCAG 2.2 A and AA and
  // axe's best practices, in both themes, wide and narrow: one load per page, the width and the
  // theme changed in place.
  for (const name of PAGES) {
    it(`loads ${name} from file:// with no error, no dialog and no request leaving the site, and axe finds no violation on it, light and dark, at 1400 and 375 pixels`, async () => {
      const { tab, all, requests } = await visit(base + name);
      expectOwnRequests(requests, base, name);
      expect(await tab.evaluate(() => getComputedStyle(document.body).fontFamily)).toMatch(/system-ui/);
      await tab.evaluate(AXE);
      const found: string[] = [];
      for (const [width, scheme] of [[1400, "light"], [1400, "dark"], [375, "dark"], [375, "light"]] as const) {
        await tab.setViewportSize({ width, height: 900 });
        await tab.emulateMedia({ colorScheme: scheme });
        // preload: false, or axe would fetch the stylesheet again, which the page's policy refuses.
        const violations = await tab.evaluate(async (tags) => {
          const axe = (window as unknown as { axe: { run(c: Document, o: object): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }).axe;
          return (await axe.run(document, { preload: false, runOnly: { type: "tag", values: tags } })).violations;
        }, AXE_TAGS);
        for (const v of violations) found.push(`${width} ${scheme}: ${v.id} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
      }
      expect(found).toEqual([]);
      expect(all).toEqual([]);
    }, 180_000);
  }

  it("shows a page that `lectern build` really ran", async () => {
    const dir = join(out, "real");
    await realBuild;
    const { tab, all } = await visit(pathToFileURL(join(dir, "real.html")).href, pathToFileURL(dir).href + "/");
    const output = tab.locator("#cell-greet .output pre");
    expect(await output.textContent()).toBe("Your name: Ada\nloading 100%\nhello Ada <b>not bold</b>\na warning on stderr");
    expect(await output.locator("kbd.stdin").textContent()).toBe("Ada");
    expect(await output.locator(".ansi-fg-6").textContent()).toBe("loading 100%");
    expect(await output.locator(".stderr.ansi-fg-1").textContent()).toBe("a warning on stderr");
    expect(await tab.locator("#cell-greet .status").textContent()).toBe("passed");
    await shoot(tab, "real.png");
    expect(all).toEqual([]);
  }, 60_000);

  it("reloads a page served by `lectern serve` when its Markdown is saved", async () => {
    const dir = join(out, "live");
    await mkdir(dir, { recursive: true });
    const path = join(dir, "live.md");
    await writeFile(path, "# Live\n\nThe word is tulip.\n");
    const live = await preview([await planPage(await readPage(path))], {
      host: "127.0.0.1",
      port: 0,
      execute: { cacheDir: join(out, "live-cache"), timeout: 10, jobs: createLimiter(2), env: { PATH: process.env["PATH"] ?? "" }, maxOutput: 1 << 20, graceMs: 500 },
      log: () => {},
    });
    const context = await browser.newContext();
    try {
      const { tab, problems } = await open(context, `${live.url}live.html?token=${live.token}`, live.url);
      expect(await tab.locator("article").textContent()).toContain("tulip");
      // The page's own script holds an event stream open to the preview; a save reloads it.
      const reloaded = tab.waitForEvent("load", { timeout: 15_000 });
      await new Promise((r) => setTimeout(r, 300));
      await writeFile(path, "# Live\n\nThe word is daisy.\n");
      await reloaded;
      expect(await tab.locator("article").textContent()).toContain("daisy");
      // Reloading ends the old page's event stream: that one aborted request is the reload itself.
      expect(problems.filter((p) => !/__lectern\/events\?page=live\.html net::ERR_ABORTED$/.test(p))).toEqual([]);
    } finally {
      await context.close();
      await live.close();
    }
  }, 30_000);
});
