// The built site in a real browser (Debian's Chromium through playwright-core), from file:// and
// over HTTP: nothing leaves the site, hostile output stays text, navigation, folding, copying,
// dark theme and phone width work. Screenshots go to $LECTERN_SCREENSHOTS (default: a temp folder).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
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

const CHROMIUM = process.env["LECTERN_CHROMIUM"] ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const FIXTURES = new URL("./fixtures/render/", import.meta.url);
const onCi = Boolean(process.env["CI"]);
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium && !onCi) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

// On CI a missing browser is a failure, never a skip.
it("has Chromium where CI needs it", () => {
  if (onCi) expect(haveChromium, `${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`).toBe(true);
});

const PAGES = ["index.html", "basic.html", "terminal.html", "hostile.html", "megabyte.html", "notrun.html"];

/** index.md, the render fixtures, and a page whose one cell printed a megabyte. */
async function buildSite(out: string): Promise<void> {
  const fixture = async (name: string) => extractPage(`${name}.md`, await readFile(new URL(`${name}.md`, FIXTURES), "utf8"));
  const index = extractPage(
    "index.md",
    "# Networking notes\n\nRunnable lecture notes. Start with [the terminal page](terminal.md), then [UDP](basic.html).\n",
  );
  const bigChunks: Chunk[] = [{ stream: "stdout", text: "\x1b[32mstarting\x1b[0m\n" }, ...manyLines(16_000, 56)];
  const big = extractPage("megabyte.md", "# A megabyte of output\n\nA cell that prints about a megabyte.\n\n```ts name=big\nfor (let i = 1; i <= 16000; i++) console.log(`line ${i} ${\"x\".repeat(56)}`);\n```\n");
  await writeSite(out, [
    { page: index, result: null },
    { page: await fixture("basic"), result: RESULTS["basic"]! },
    { page: await fixture("hostile"), result: RESULTS["hostile"]! },
    { page: await fixture("terminal"), result: RESULTS["terminal"]! },
    { page: big, result: pageResult("megabyte.md", [cellResult("big", 5, { durationMs: 900, chunks: bigChunks })]) },
    { page: await fixture("notrun"), result: null },
  ]);
}

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

/** What went wrong on a tab: console errors, uncaught errors, dialogs, requests outside `base`. */
function watch(tab: Tab, base: string) {
  const problems: string[] = [];
  const requests: string[] = [];
  tab.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  tab.on("dialog", (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  tab.on("request", (r) => {
    requests.push(r.url());
    if (!r.url().startsWith(base)) problems.push(`request outside the site: ${r.url()}`);
  });
  tab.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  return { problems, requests };
}

// A loaded CI machine can take seconds per page load: the steps are bounded, not timed.
describe.runIf(haveChromium)("the built site in Chromium", { timeout: 30_000 }, () => {
  let browser: Browser;
  let out: string;
  let base: string;
  let server: Server;
  let shots: string;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), "lectern-browser-"));
    shots = process.env["LECTERN_SCREENSHOTS"] ?? join(out, "screenshots");
    await mkdir(shots, { recursive: true });
    [browser] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ARGS }), buildSite(join(out, "site"))]);
    base = pathToFileURL(join(out, "site")).href + "/";
    server = await serve(join(out, "site"));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(null)));
    await rm(out, { recursive: true, force: true });
  });

  async function open(context: BrowserContext, url: string, site = base) {
    const tab = await context.newPage();
    const seen = watch(tab, site);
    const t = Date.now();
    await tab.goto(url, { waitUntil: "load" });
    if (process.env["LECTERN_TIMING"]) console.log(url, Date.now() - t);
    return { tab, ...seen };
  }

  it("loads every page from file:// and over HTTP with no error, no dialog and no request leaving the site", async () => {
    const http = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const context = await browser.newContext();
    for (const site of [base, http]) {
      for (const name of PAGES) {
        const { tab, problems, requests } = await open(context, site + name, site);
        expect(problems, `${site}${name}`).toEqual([]);
        // The stylesheet and the copy script, both from the site itself, and nothing else.
        expect(requests.map((r) => r.slice(site.length)).sort(), name).toEqual(["", "assets/copy.js", "assets/lectern.css", name].filter((x) => x !== "").sort());
        expect(await tab.evaluate(() => getComputedStyle(document.body).fontFamily)).toMatch(/system-ui/);
        await tab.close();
      }
    }
    await context.close();
  }, 20_000);

  it("shows hostile output as text: no dialog, no injected element, only http(s) links", async () => {
    const context = await browser.newContext();
    const { tab, problems } = await open(context, base + "hostile.html");
    const found = await tab.evaluate(() => ({
      scripts: [...document.scripts].map((s) => s.getAttribute("src")),
      injected: document.querySelectorAll("main img, main iframe, main object, main embed, main svg, main form").length,
      handlers: [...document.querySelectorAll("*")].flatMap((el) => [...el.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${el.tagName} ${a.name}`)),
      schemes: [...new Set([...document.querySelectorAll("a[href]")].map((a) => (a as HTMLAnchorElement).protocol))].sort(),
      text: document.querySelector("#cell-in-list .output")?.textContent,
    }));
    expect(found).toEqual({ scripts: ["assets/copy.js"], injected: 0, handlers: [], schemes: ["file:", "https:"], text: "</pre><script>alert(1)</script>" });
    // Clicking every output link and summary fires nothing either.
    for (const summary of await tab.locator("main summary").all()) await summary.click();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("navigates from the index through the pages, the contents and the cell links", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const { tab, problems } = await open(context, base + "index.html");
    // The index lists the pages in the order index.md links them.
    expect(await tab.locator(".page-list .page-link").allTextContents()).toEqual([
      "What terminals print", "UDP echo, in two cells", "Hostile <script>alert(\"title\")</script> & \"quotes\"", "A megabyte of output", "First heading becomes the title",
    ]);
    expect(await tab.locator(".page-list li").first().locator(".pill-failed").textContent()).toBe("1 failed");
    await tab.locator(".page-list .page-link").first().click();
    expect(tab.url()).toBe(base + "terminal.html");
    await tab.locator(".pager a[rel=next]").click();
    expect(tab.url()).toBe(base + "basic.html");
    await tab.locator(".pager a[rel=prev]").click();
    expect(tab.url()).toBe(base + "terminal.html");
    await tab.locator(".toc-side a", { hasText: "Servers and failures" }).click();
    expect(tab.url()).toBe(base + "terminal.html#servers-and-failures");
    expect(await tab.locator("#servers-and-failures").isVisible()).toBe(true);
    await tab.locator(".run-summary a", { hasText: "slow" }).click();
    expect(tab.url()).toBe(base + "terminal.html#cell-slow");
    expect(await tab.evaluate(() => Math.round(document.querySelector("#cell-slow")!.getBoundingClientRect().top))).toBeLessThan(40);
    await tab.locator(".pager a[rel=next]").click();
    await tab.locator(".site-title").click();
    expect(tab.url()).toBe(base + "index.html");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("folds long outputs until asked, and unfolds a megabyte", async () => {
    const context = await browser.newContext();
    const { tab, problems } = await open(context, base + "megabyte.html");
    const more = tab.locator("#cell-big details.more");
    expect(await tab.locator("#cell-big .output > pre").textContent()).toMatch(/^starting\nline 1 x+\n[\s\S]*line 19 x+$/);
    expect(await more.locator("pre").isVisible()).toBe(false);
    expect(await more.locator("summary").textContent()).toMatch(/^Show 15,981 more lines \(\d\.\d MB\)$/);
    await more.locator("summary").click();
    expect(await more.locator("pre").isVisible()).toBe(true);
    expect(await more.locator("pre").textContent()).toMatch(/line 16000 x+$/);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("copies code with JavaScript, and reads fine without it", async () => {
    const context = await browser.newContext();
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    const { tab, problems } = await open(context, base + "basic.html");
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
    expect(problems).toEqual([]);
    await context.close();

    const noJs = await browser.newContext({ javaScriptEnabled: false });
    const plain = await open(noJs, base + "terminal.html");
    expect(await plain.tab.locator("button").count()).toBe(0);
    expect(await plain.tab.locator("#cell-colours .output").isVisible()).toBe(true);
    expect(await plain.tab.locator("#cell-colours code").isVisible()).toBe(true);
    await plain.tab.locator("#cell-long summary").click();
    expect(await plain.tab.locator("#cell-long details pre").isVisible()).toBe(true);
    expect(plain.problems).toEqual([]);
    await noJs.close();
  });

  it("follows the dark theme, fits a phone, and saves screenshots", async () => {
    const background = async (scheme: "light" | "dark") => {
      const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 900 } });
      const { tab, problems } = await open(context, base + "terminal.html");
      await tab.screenshot({ path: join(shots, `terminal-${scheme}.png`) });
      await tab.goto(base + "index.html");
      await tab.screenshot({ path: join(shots, `index-${scheme}.png`) });
      await tab.goto(base + "terminal.html");
      await tab.emulateMedia({ colorScheme: scheme === "dark" ? "light" : "dark" });
      const flipped = await tab.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await tab.emulateMedia({ colorScheme: scheme });
      const color = await tab.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(problems).toEqual([]);
      await context.close();
      return { color, flipped };
    };
    const light = await background("light");
    const dark = await background("dark");
    expect(light.color).not.toBe(dark.color);
    expect(light.flipped).toBe(dark.color);
    expect(dark.color).toBe("rgb(18, 20, 24)");

    const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    for (const name of PAGES) {
      const { tab, problems } = await open(phone, base + name);
      const sizes = await tab.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth, body: document.body.scrollWidth }));
      expect(sizes.scroll, `${name} scrolls sideways`).toBeLessThanOrEqual(sizes.width);
      expect(sizes.body, name).toBeLessThanOrEqual(sizes.width);
      if (name === "terminal.html" || name === "index.html") await tab.screenshot({ path: join(shots, `${name.replace(".html", "")}-phone.png`) });
      expect(problems).toEqual([]);
      await tab.close();
    }
    await phone.close();
    const print = await browser.newContext();
    const { tab } = await open(print, base + "basic.html");
    await tab.emulateMedia({ media: "print" });
    expect(await tab.locator(".site-header").isVisible()).toBe(false);
    await tab.screenshot({ path: join(shots, "basic-print.png"), fullPage: true });
    await print.close();
  }, 20_000);

  it("shows a page that `lectern build` really ran", async () => {
    const dir = join(out, "real");
    const bin = new URL("../runner/bin.mjs", import.meta.url).pathname;
    const page = new URL("real.md", FIXTURES).pathname;
    await promisify(execFile)(process.execPath, [bin, "build", page, "--out", dir, "--cache", join(out, "cache")], { cwd: join(out) });
    const context = await browser.newContext();
    const { tab, problems } = await open(context, pathToFileURL(join(dir, "real.html")).href, pathToFileURL(dir).href + "/");
    const output = tab.locator("#cell-greet .output pre");
    expect(await output.textContent()).toBe("Your name: Ada\nloading 100%\nhello Ada <b>not bold</b>\na warning on stderr");
    expect(await output.locator("kbd.stdin").textContent()).toBe("Ada");
    expect(await output.locator(".ansi-fg-6").textContent()).toBe("loading 100%");
    expect(await output.locator(".stderr.ansi-fg-1").textContent()).toBe("a warning on stderr");
    expect(await tab.locator("#cell-greet .status").textContent()).toBe("passed");
    await tab.screenshot({ path: join(shots, "real.png") });
    expect(problems).toEqual([]);
    await context.close();
  }, 20_000);

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
      const { tab, problems } = await open(context, live.url + "live.html", live.url);
      expect(await tab.locator("article").textContent()).toContain("tulip");
      // The page's own script holds an event stream open to the preview; a save reloads it.
      const reloaded = tab.waitForEvent("load", { timeout: 15_000 });
      await new Promise((r) => setTimeout(r, 300));
      await writeFile(path, "# Live\n\nThe word is daisy.\n");
      await reloaded;
      expect(await tab.locator("article").textContent()).toContain("daisy");
      // Reloading ends the old page's event stream: that one aborted request is the reload itself.
      expect(problems.filter((p) => !/__lectern\/events net::ERR_ABORTED$/.test(p))).toEqual([]);
    } finally {
      await context.close();
      await live.close();
    }
  }, 30_000);
});
