// The live notebook in Chromium, against a real `serve` (runner/cli/preview.ts) and real cells:
// Run streams the transcript into the page, a server run alone keeps serving (reachable from here)
// until Stop, two browsers see the same runs, edits run without touching the file and survive a
// reload, Reset and Save to page. Then the limits over plain HTTP: --jobs across requests, a rerun
// restarts, the last browser gone stops the page's runs.
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import type { Browser, BrowserContext, Page as Tab } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLimiter } from "../runner/execute/limit.ts";
import { readPage } from "../runner/extract/extract.ts";
import { planPage } from "../runner/plan/plan.ts";
import { serve, type Preview } from "../runner/cli/preview.ts";
import { haveChromium, launchChromium } from "./chromium.ts";
import { tmp } from "./helpers.ts";

const TOKEN = "live-test-token";
const fence = "```";
const GREET = `import { input } from "lectern";
console.log("hello");
await new Promise((r) => setTimeout(r, 1500));
const name = await input("Your name: ");
console.log(\`hi \${name}\`);
await new Promise((r) => setTimeout(r, 1500));
`;
const PAGE = `# Live

${fence}ts name=greet stdin="Ada"
${GREET}${fence}

${fence}ts name=srv server
import { createServer } from "node:net";
import { port } from "lectern";
createServer((s) => s.end("pong\\n")).listen(port("tcp"), "127.0.0.1", () => console.log("listening"));
${fence}

${fence}ts name=slow
for (let i = 0; i < 20; i++) console.log("tick"), await new Promise((r) => setTimeout(r, 100));
${fence}

${fence}ts name=slow2
for (let i = 0; i < 20; i++) console.log("tock"), await new Promise((r) => setTimeout(r, 100));
${fence}
`;

/** What a tab shows that it should not: console errors (a CSP refusal among them) and uncaught errors. */
function problemsOf(tab: Tab): string[] {
  const problems: string[] = [];
  tab.on("console", (m) => void (m.type() === "error" && problems.push(`console: ${m.text()}`)));
  tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

/** Reads a page's event stream (the JSON events), as a browser's EventSource would. */
function events(preview: Preview, page: string) {
  const seen: { type: string; cell?: string; [k: string]: unknown }[] = [];
  const req = request(`${preview.url}__lectern/events?page=${page}`, { headers: { cookie: `lectern-token-${new URL(preview.url).port}=${TOKEN}` } }, (res) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (d: string) => {
      text += d;
      for (let i = text.indexOf("\n\n"); i >= 0; i = text.indexOf("\n\n")) {
        seen.push(JSON.parse(text.slice(6, i)));
        text = text.slice(i + 2);
      }
    });
  });
  req.on("error", () => {});
  req.end();
  const until = async (test: () => boolean) => {
    for (let i = 0; i < 300 && !test(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(test(), JSON.stringify(seen)).toBe(true);
  };
  return { seen, until, close: () => req.destroy(), count: (type: string, cell: string) => seen.filter((e) => e.type === type && e.cell === cell).length };
}

function post(preview: Preview, action: string, body: object): Promise<number> {
  const origin = preview.url.slice(0, -1);
  return fetch(`${preview.url}__lectern/${action}`, {
    method: "POST",
    headers: { origin, "content-type": "application/json", cookie: `lectern-token-${new URL(preview.url).port}=${TOKEN}` },
    body: JSON.stringify({ page: "page.html", ...body }),
  }).then((r) => r.status);
}

describe.runIf(haveChromium)("the live notebook of lectern serve", () => {
  let dir: string;
  let path: string;
  let preview: Preview;
  let browser: Browser;

  beforeAll(async () => {
    dir = tmp();
    path = join(dir, "page.md");
    writeFileSync(path, PAGE);
    const opening = serve([await planPage(await readPage(path))], {
      host: "127.0.0.1",
      port: 0,
      execute: { cacheDir: join(dir, "cache"), timeout: 10, jobs: createLimiter(1), env: { PATH: process.env["PATH"] ?? "" }, maxOutput: 1 << 20, graceMs: 500 },
      log: () => {},
      token: TOKEN,
      idleStopMs: 1000,
    });
    [preview, browser] = await Promise.all([opening, launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await preview?.close();
  });

  async function open(context: BrowserContext) {
    const tab = await context.newPage();
    // A step that cannot happen fails with what it waited for, not at the test's timeout.
    tab.setDefaultTimeout(15_000);
    const problems = problemsOf(tab);
    await tab.goto(`${preview.url}page.html?token=${TOKEN}`);
    await tab.locator("#cell-greet .live-bar").waitFor();
    return { tab, problems };
  }

  it("runs a cell and streams its output; a server keeps serving for two browsers until Stop", async () => {
    const [a, b] = [await browser.newContext(), await browser.newContext()];
    const { tab, problems } = await open(a);
    expect(tab.url()).toBe(`${preview.url}page.html`);
    await tab.locator("#cell-greet .live-run").click();
    const out = tab.locator("#cell-greet .live-output pre");
    await expect.poll(() => out.textContent(), { timeout: 15_000 }).toBe("hello\n");
    // The first line is there while the cell still runs, and so is the typed input once read.
    expect(await tab.locator("#cell-greet .cell-header .status").textContent()).toBe("running");
    await expect.poll(() => tab.locator("#cell-greet .live-output kbd.stdin").textContent(), { timeout: 15_000 }).toMatch(/^Ada\n?$/);
    expect(await tab.locator("#cell-greet .cell-header .status").textContent()).toBe("running");
    await expect.poll(() => tab.locator("#cell-greet .cell-header .status").textContent(), { timeout: 15_000 }).toBe("passed");
    await expect.poll(() => tab.locator("#cell-greet .output pre").textContent()).toBe("hello\nYour name: Ada\nhi Ada");
    expect(await tab.locator("#cell-greet .output kbd.stdin").textContent()).toBe("Ada");
    expect(await tab.locator("#cell-greet .cell-status").textContent()).toMatch(/^exit 0 · \d/);

    const other = await open(b);
    await tab.locator("#cell-srv .live-run").click();
    const note = /^Serving on 127\.0\.0\.1, port tcp=(\d+): talk to it from a terminal; Stop ends it\.$/;
    for (const t of [tab, other.tab]) await expect.poll(() => t.locator("#cell-srv .live-note-serving").textContent(), { timeout: 15_000 }).toMatch(note);
    expect(await other.tab.locator("#cell-srv .cell-header .status").textContent()).toBe("running");
    const port = Number(note.exec((await tab.locator("#cell-srv .live-note-serving").textContent())!)![1]);
    const reply = await new Promise<string>((resolve, reject) => {
      let text = "";
      connect(port, "127.0.0.1").on("data", (d) => (text += d)).on("end", () => resolve(text)).on("error", reject);
    });
    expect(reply).toBe("pong\n");
    await other.tab.locator("#cell-srv .live-stop").click();
    for (const t of [tab, other.tab]) {
      await expect.poll(() => t.locator("#cell-srv .cell-header .status").textContent(), { timeout: 15_000 }).toBe("server stopped");
      expect(await t.locator("#cell-srv .live-stop").isHidden()).toBe(true);
      expect(await t.locator("#cell-srv .live-note-serving").count()).toBe(0);
    }
    expect(await tab.locator("#cell-srv .output pre").textContent()).toBe("listening");
    expect([...problems, ...other.problems]).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  it("runs an edit without touching the file, keeps it over a reload, resets it, and saves it to the page", async () => {
    const context = await browser.newContext();
    const { tab, problems } = await open(context);
    await tab.locator("#cell-greet .live-edit").click();
    await tab.keyboard.press("Control+A");
    await tab.keyboard.insertText('console.log("edited");');
    expect(await tab.locator("#cell-greet .live-note-edited").textContent()).toBe("Edited here, not saved to the page.");
    await tab.locator("#cell-greet .live-run").click();
    await expect.poll(() => tab.locator("#cell-greet .output pre").textContent(), { timeout: 15_000 }).toBe("edited");
    expect(readFileSync(path, "utf8")).toBe(PAGE);

    await tab.reload();
    await tab.locator("#cell-greet .live-editor").waitFor();
    expect(await tab.locator("#cell-greet .cm-content").textContent()).toBe('console.log("edited");');
    expect(await tab.locator("#cell-greet > .code").isHidden()).toBe(true);
    await tab.locator("#cell-greet .live-reset").click();
    expect(await tab.locator("#cell-greet .live-editor").count()).toBe(0);
    expect(await tab.locator("#cell-greet > .code").textContent()).toContain('console.log("hello");');
    await tab.reload();
    await tab.locator("#cell-greet .live-bar").waitFor();
    expect(await tab.locator("#cell-greet .live-editor").count()).toBe(0);

    await tab.locator("#cell-greet .live-edit").click();
    await tab.keyboard.press("Control+A");
    await tab.keyboard.insertText('console.log("saved");');
    const reloaded = tab.waitForEvent("load", { timeout: 15_000 });
    await tab.locator("#cell-greet .live-save").click();
    await reloaded;
    expect(readFileSync(path, "utf8")).toBe(PAGE.replace(GREET, 'console.log("saved");\n'));
    await tab.locator("#cell-greet .live-bar").waitFor();
    expect(await tab.locator("#cell-greet .live-editor").count()).toBe(0);
    expect(await tab.locator("#cell-greet > .code").textContent()).toBe('console.log("saved");\n');
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it("runs at most --jobs cells at once, restarts a rerun, and stops a page's runs once its last browser is gone", async () => {
    const stream = events(preview, "page.html");
    await stream.until(() => stream.seen.length > 0);
    expect(await post(preview, "run", { cell: "slow" })).toBe(202);
    await stream.until(() => stream.count("start", "slow") === 1);
    expect(await post(preview, "run", { cell: "slow2" })).toBe(202);
    // --jobs 1: slow2 waits for the slot slow holds.
    await stream.until(() => stream.seen.filter((e) => e.type === "output" && e.cell === "slow").length >= 5);
    expect(stream.count("start", "slow2")).toBe(0);
    expect(await post(preview, "stop", { cell: "slow" })).toBe(200);
    await stream.until(() => stream.count("start", "slow2") === 1);
    // Stopped before it ended: interrupted, so not passed.
    expect(stream.seen.find((e) => e.type === "end" && e.cell === "slow")?.status).toBe("failed");
    // Run on a running cell restarts it.
    expect(await post(preview, "run", { cell: "slow2" })).toBe(202);
    await stream.until(() => stream.count("start", "slow2") === 2 && stream.count("end", "slow2") === 1);
    // A server keeps serving while the page is open; once nobody watches it, after the grace period
    // (1 s here), it stops.
    expect(await post(preview, "run", { cell: "srv" })).toBe(202);
    await stream.until(() => stream.count("serving", "srv") === 1);
    stream.close();
    await new Promise((r) => setTimeout(r, 3000));
    const last = events(preview, "page.html");
    await last.until(() => last.seen.length > 0);
    expect(last.seen[0]).toEqual({ type: "snapshot", running: [] });
    last.close();
  }, 60_000);
});
