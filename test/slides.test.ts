// Slides from the same page (NAME.slides.html): built by the real command from the lecture and a
// deck written for slides, then opened from file:// in Chromium under the pages' policy: keyboard
// navigation, the slide number in the URL, real outputs, speaker notes, and every slide fitting
// 1280x720 (a block that holds more scrolls and says so).
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page as Tab } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARGS, CHROMIUM, haveChromium, watch } from "./chromium.ts";
import { BIN, lectern } from "./command.ts";
import { cacheDir, tmp } from "./helpers.ts";

// The page's global, as the tests read it inside the tab.
declare const Reveal: import("reveal.js").RevealApi;

const LECTURE = "notebook/lec3-socket-programming.md";
const DECK = "test/fixtures/slides/deck.md";
const out = tmp("lectern-slides-");
let built: Awaited<ReturnType<typeof lectern>>;

beforeAll(async () => {
  built = await lectern(["build", LECTURE, DECK, "--slides", "--out", out, "--cache", cacheDir]);
}, 120_000);

const sections = (html: string) => [...html.matchAll(/<section class="(slide[^"]*)">([\s\S]*?)<\/section>\n/g)].map((m) => ({ kind: m[1]!, html: m[2]! }));

describe("lectern build --slides", () => {
  it("writes NAME.slides.html beside each page, and reveal.js with its starter into the assets", async () => {
    expect(built.stderr).toBe("");
    expect(built.code).toBe(0);
    for (const file of ["deck.slides.html", "lec3-socket-programming.slides.html", "assets/reveal.js", "assets/reveal.css", "assets/slides.js", "assets/slides.css"]) {
      await expect(readFile(join(out, file), "utf8"), file).resolves.toBeTruthy();
    }
    // Each page links its slides, and its slides link it back.
    expect(await readFile(join(out, "deck.html"), "utf8")).toContain(`<a class="slides-link" href="deck.slides.html">Show it as slides</a>.`);
    expect(await readFile(join(out, "deck.slides.html"), "utf8")).toContain(`<a href="deck.html">The notes page</a>`);
  });

  it("cuts the deck at ## headings and breaks, with notes from block quotes and comments", async () => {
    const slides = sections(await readFile(join(out, "deck.slides.html"), "utf8"));
    expect(slides.map((s) => /<h[12][^>]*>(?:<a[^>]*>)?([^<]*)/.exec(s.html)?.[1] ?? "")).toEqual(["A deck of slides", "One cell", "A long output", "", "A setext heading", "Hostile"]);
    expect(slides[0]!.html).toContain(`<aside class="notes">\n<p>Say hello, then show the programs.</p></aside>`);
    expect(slides[1]!.html).toContain("hello from a slide");
    expect(slides[1]!.html).toContain(`<aside class="notes">\n<p>Point at the output: it is real, printed when the page was built.</p>\n</aside>`);
    expect(slides[1]!.html).not.toContain("<blockquote>");
    expect(slides[3]!.html).toContain("After the break");
    // Output is escaped; a cell put aside in a comment is no speaker note.
    expect(slides[5]!.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(slides[5]!.html).not.toContain("<script>alert");
    expect(slides[5]!.html).not.toContain("put aside");
  });

  it("gives every network diagram of the lecture a slide of its own", async () => {
    const slides = sections(await readFile(join(out, "lec3-socket-programming.slides.html"), "utf8"));
    const diagrams = slides.filter((s) => s.kind.includes("slide-diagram"));
    expect(diagrams.length).toBeGreaterThan(0);
    for (const d of diagrams) expect(d.html).toMatch(/^\n<h2>Network trace: [^<]+<\/h2>\n<figure class="trace"/);
    expect(slides.filter((s) => s.html.includes("<svg")).every((s) => s.kind.includes("slide-diagram"))).toBe(true);
  });

  it("says where front matter `slides:` is neither true nor false (exit 2)", async () => {
    const dir = tmp();
    await writeFile(join(dir, "p.md"), "---\ntitle: T\nslides: yes\n---\n\n# T\n");
    const r = await lectern(["build", "p.md", "--out", "site", "--cache", cacheDir], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`p.md:3: front matter slides: takes true or false, not "yes"`);
  });
});

describe("lectern serve with slides", () => {
  it("serves a page's slides with the page's reload hook, and serves them anew when the page is saved", async () => {
    const dir = tmp();
    const page = (word: string) => `---\nslides: true\n---\n\n# Live\n\n## Say\n\n\`\`\`ts name=say\nconsole.log("${word}".toUpperCase());\n\`\`\`\n`;
    await writeFile(join(dir, "live.md"), page("tulip"));
    const child = spawn(process.execPath, [BIN, "serve", "live.md", "--port", "0", "--cache", cacheDir], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    try {
      // serve prints its address with the secret token a browser must show once (then as a cookie).
      const [origin, port, token] = await new Promise<string[]>((resolve, reject) => {
        let seen = "";
        child.stdout.on("data", (d: Buffer) => {
          seen += d.toString();
          const m = /serving (https?:\/\/[^\s/]+:(\d+))\/\?token=(\S+)/.exec(seen);
          if (m) resolve([m[1]!, m[2]!, m[3]!]);
        });
        child.on("exit", () => reject(new Error(`serve ended: ${seen}`)));
      });
      const get = async (name: string) => (await fetch(`${origin}/${name}`, { headers: { cookie: `lectern-token-${port}=${token}` } })).text();
      const slides = await get("live.slides.html");
      expect(slides).toContain("TULIP");
      // Whatever script the preview adds to its pages to reload them, the slides have it too.
      const hooks = [...(await get("live.html")).matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!).filter((src) => !src.startsWith("assets/"));
      expect(hooks.length).toBeGreaterThan(0);
      for (const src of hooks) expect(slides).toContain(`<script src="${src}"`);
      await writeFile(join(dir, "live.md"), page("rose"));
      let after = "";
      for (let i = 0; i < 100 && !after.includes("ROSE"); i++) {
        await new Promise((r) => setTimeout(r, 200));
        after = await get("live.slides.html");
      }
      expect(after).toContain("ROSE");
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
    }
  }, 60_000);
});

// A loaded CI machine can take seconds per step: the steps are bounded, not timed.
describe.runIf(haveChromium)("the slides in Chromium, from file://", { timeout: 60_000 }, () => {
  let browser: Browser;
  const base = pathToFileURL(out).href + "/";
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  afterAll(async () => browser?.close());

  async function open(name: string) {
    const tab = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const seen = watch(tab, base);
    await tab.goto(base + name);
    await tab.waitForFunction(() => (globalThis as unknown as { Reveal?: { isReady(): boolean } }).Reveal?.isReady());
    return { tab, ...seen };
  }
  const indices = (tab: Tab) => tab.evaluate(() => Reveal.getIndices().h);

  it("navigates the lecture by keyboard, with the slide number in the URL, and shows real outputs", async () => {
    const { tab, problems, requests } = await open("lec3-socket-programming.slides.html");
    await tab.keyboard.press("ArrowRight");
    await tab.waitForFunction(() => location.hash === "#/1");
    await tab.keyboard.press("ArrowRight");
    await tab.keyboard.press("ArrowLeft");
    await tab.waitForFunction(() => Reveal.getIndices().h === 1);
    // A slide number in the URL opens that slide.
    await tab.goto(base + "lec3-socket-programming.slides.html#/4");
    await tab.waitForFunction(() => Reveal.isReady() && Reveal.getIndices().h === 4);
    // The UDP client's real reply, on its slide.
    const slide = await tab.evaluate(() => Reveal.getSlides().findIndex((s) => s.querySelector("#cell-udp-client") !== null));
    await tab.evaluate((i) => Reveal.slide(i), slide);
    expect(await indices(tab)).toBe(slide);
    await expect(tab.locator("#cell-udp-client .output").isVisible()).resolves.toBe(true);
    expect(await tab.locator("#cell-udp-client .output").innerText()).toMatch(/reply from 127\.0\.0\.1:\d+: HELLO FROM THE UDP CLIENT/);
    expect(problems).toEqual([]);
    const files = [...new Set(requests.map((r) => r.slice(base.length).replace(/#.*/, "")))].sort();
    expect(files).toEqual(["assets/lectern.css", "assets/reveal.css", "assets/reveal.js", "assets/slides.css", "assets/slides.js", "lec3-socket-programming.slides.html"]);
    await tab.close();
  });

  it("fits every slide of both pages in 1280x720: whatever holds more scrolls and shows a sign", async () => {
    for (const name of ["lec3-socket-programming.slides.html", "deck.slides.html"]) {
      const { tab, problems } = await open(name);
      const total = await tab.evaluate(() => Reveal.getTotalSlides());
      const cut: string[] = [];
      for (let i = 0; i < total; i++) {
        await tab.evaluate((n) => Reveal.slide(n), i);
        // Every block that holds more than it shows is marked, and its mark is drawn.
        cut.push(
          ...(await tab.evaluate((n) => {
            const slide = Reveal.getCurrentSlide()!;
            const bad: string[] = [];
            const box = slide.getBoundingClientRect();
            if (Math.round(box.height / Reveal.getScale()) > 720 || Math.round(box.width / Reveal.getScale()) > 1280) bad.push(`slide ${n} is ${box.width}x${box.height}`);
            for (const el of [slide, ...slide.querySelectorAll<HTMLElement>("div.code, .output")]) {
              const more = el.scrollHeight > el.clientHeight + 1;
              if (more && !el.classList.contains("more-below")) bad.push(`slide ${n}: ${el.className} is cut off without a sign`);
              if (more && getComputedStyle(el).overflowY === "hidden") bad.push(`slide ${n}: ${el.className} cannot scroll`);
              if (more && el !== slide && getComputedStyle(el, "::after").content !== '"▼ more: scroll"') bad.push(`slide ${n}: ${el.className} has no visible sign`);
            }
            return bad;
          }, i)),
        );
      }
      expect(cut, name).toEqual([]);
      expect(problems, name).toEqual([]);
      await tab.close();
    }
  });

  it("shows the deck's long output scrolling with its sign, and the speaker notes on N or ?notes", async () => {
    const { tab, problems } = await open("deck.slides.html#/2");
    await tab.waitForFunction(() => document.querySelector("#cell-many .output")?.classList.contains("more-below"));
    await tab.screenshot({ path: join(out, "long-output.png") });
    // Scrolled to its end, the block no longer says there is more.
    await tab.evaluate(() => {
      const o = document.querySelector("#cell-many .output")!;
      o.scrollTop = o.scrollHeight;
    });
    await tab.waitForFunction(() => !document.querySelector("#cell-many .output")!.classList.contains("more-below"));
    await tab.evaluate(() => Reveal.slide(1));
    const notes = tab.locator(".speaker-notes");
    await expect(notes.isVisible()).resolves.toBe(false);
    await tab.keyboard.press("n");
    await tab.waitForFunction(() => document.querySelector<HTMLElement>(".speaker-notes")?.offsetParent !== null);
    expect(await notes.innerText()).toContain("Point at the output: it is real");
    await tab.keyboard.press("n");
    await tab.waitForFunction(() => document.querySelector<HTMLElement>(".speaker-notes")?.offsetParent === null);
    await tab.goto(base + "deck.slides.html?notes#/0");
    await tab.waitForFunction(() => document.querySelector<HTMLElement>(".speaker-notes")?.innerText.includes("Say hello"));
    expect(problems).toEqual([]);
    await tab.close();
  });
});
