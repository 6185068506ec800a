import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readPage } from "../runner/extract/extract.ts";
import { createLimiter } from "../runner/execute/limit.ts";
import { planPage } from "../runner/plan/plan.ts";
import { serve } from "../runner/cli/preview.ts";
import { tmp, ts } from "./helpers.ts";

const source = (word: string) => `# Preview\n\nThe word is ${word}.\n\n` + ts("name=say", `console.log("${word}".toUpperCase());`);

const TOKEN = "test-token-of-serve";
const cookie = (url: string) => ({ cookie: `lectern-token-${new URL(url).port}=${TOKEN}` });
const get = (url: string) => fetch(url, { headers: cookie(url) });

/** The first server-sent event after the snapshot, or null after five seconds. */
function nextEvent(url: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request(url + "__lectern/events?page=preview.html", { headers: cookie(url) }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        const m = /^data: (?!\{"type":"snapshot")(.*)$/m.exec(text);
        if (m) {
          req.destroy();
          resolve(m[1]!);
        }
      });
    });
    req.on("error", () => resolve(null));
    req.end();
    setTimeout(() => {
      req.destroy();
      resolve(null);
    }, 5000);
  });
}

describe("lectern serve", () => {
  it("serves the built page, and on save reruns the changed cell and tells the browser to reload", async () => {
    const dir = tmp();
    const path = join(dir, "preview.md");
    writeFileSync(path, source("tulip"));
    const logs: string[] = [];
    const preview = await serve([await planPage(await readPage(path))], {
      host: "127.0.0.1",
      port: 0,
      execute: { cacheDir: join(dir, "cache"), timeout: 10, jobs: createLimiter(2), env: { PATH: process.env.PATH ?? "" }, maxOutput: 1 << 20, graceMs: 500 },
      log: (l) => logs.push(l),
      token: TOKEN,
    });
    try {
      expect(preview.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(preview.token).toBe(TOKEN);
      const first = await (await get(preview.url + "preview.html")).text();
      expect(first).toContain("TULIP");
      const script = /<script src="(\/__lectern\/live\.[0-9a-f]{12}\.js)"><\/script>\n<\/body>/.exec(first)?.[1];
      expect(first).toContain("default-src 'none'; connect-src 'self';");
      expect(await (await get(preview.url + script!.slice(1))).text()).toContain("/__lectern/events?page=");
      expect((await get(preview.url + "nope.html")).status).toBe(404);

      const reload = nextEvent(preview.url);
      const rebuilt = new Promise<string[]>((resolve) => preview.onRebuild(resolve));
      await new Promise((r) => setTimeout(r, 200)); // the event stream is open before the save
      writeFileSync(path, source("daisy"));
      expect(await rebuilt).toEqual([path]);
      expect(await reload).toBe('{"type":"reload"}');
      const second = await (await get(preview.url + "preview.html")).text();
      expect(second).toContain("DAISY");
      expect(second).not.toContain("TULIP");

      // A mistake keeps the last good page and says where it is.
      writeFileSync(path, source("rose").replace("name=say", "name=say colour=red"));
      const said = () => logs.some((l) => l.startsWith(`lectern: ${path}:5: unknown attribute "colour"`));
      for (let i = 0; i < 100 && !said(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(said()).toBe(true);
      expect(await (await get(preview.url + "preview.html")).text()).toContain("DAISY");
    } finally {
      await preview.close();
    }
  }, 30_000);
});
