// Rendering, in process: markdown-it alone (md.render of each page's source) against Lectern's
// render stage (renderPage with real results: highlighted code, transcripts, trace diagrams),
// on the 100 course pages and on the lecture page.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { executePlan, type ExecuteOptions } from "../../runner/execute/execute.ts";
import { extractPage } from "../../runner/extract/extract.ts";
import type { PageContext } from "../../runner/render/layout.ts";
import { createLimiter } from "../../runner/execute/limit.ts";
import { createMarkdown } from "../../runner/extract/markdown.ts";
import { planPage } from "../../runner/plan/plan.ts";
import { renderPage } from "../../runner/render/render.ts";
import type { Page, PageResult } from "../../runner/types.ts";
import { CORES, LECTURE, QUICK, ROOT, RUNS, SMALL_ENV, coursePage, fmtMs, fmtRatio, interleave, log, scratch, standalone, type Row } from "./lib.ts";

const CTX: PageContext = { index: "index.html", assets: "assets/", siteTitle: "Bench", prev: null, next: null, node: process.version };

async function realResult(path: string, text: string, cacheDir: string): Promise<PageResult> {
  const options: ExecuteOptions = { cacheDir, timeout: 20, jobs: createLimiter(CORES * 2), env: SMALL_ENV, maxOutput: 1 << 20, graceMs: 1000 };
  const r = await executePlan(await planPage(extractPage(path, text)), options);
  const bad = r.cells.find((c) => c.status !== "passed");
  if (bad) throw new Error(`${path}: ${bad.name} ${bad.status}: ${bad.reason}`);
  return r;
}

export default async function rendering(): Promise<Row[]> {
  log("\n## rendering, in process");
  const dir = scratch("rendering");
  const cacheDir = join(dir, "cache");
  const count = QUICK ? 20 : 100;
  const sources = Array.from({ length: count }, (_, i) => coursePage(i + 1));
  const paths = sources.map((_, i) => join(dir, `page-${i + 1}.md`));
  sources.forEach((s, i) => writeFileSync(paths[i]!, s));
  // One real run gives the results (transcripts, trace); every course page has the same cells.
  const result = await realResult(paths[0]!, sources[0]!, cacheDir);
  const pages: Page[] = sources.map((s, i) => extractPage(paths[i]!, s));
  const lecText = readFileSync(join(ROOT, LECTURE), "utf8");
  const lecPath = join(ROOT, LECTURE);
  const lecResult = await realResult(lecPath, lecText, cacheDir);
  const lecPage = extractPage(lecPath, lecText);
  const LEC_REPEAT = 20;

  const md = createMarkdown();
  let sink = 0;
  const t = await interleave(
    RUNS,
    {
      [`markdown-it md.render, ${count} course pages`]: async () => {
        for (const s of sources) sink += md.render(s).length;
      },
      [`Lectern renderPage (with results), ${count} course pages`]: async () => {
        for (const p of pages) sink += renderPage(p, { ...result, path: p.path }, CTX).length;
      },
      [`Lectern extract + renderPage, ${count} course pages`]: async () => {
        for (let i = 0; i < count; i++) sink += renderPage(extractPage(paths[i]!, sources[i]!), { ...result, path: paths[i]! }, CTX).length;
      },
      [`markdown-it md.render, lec3 x ${LEC_REPEAT}`]: async () => {
        for (let i = 0; i < LEC_REPEAT; i++) sink += md.render(lecText).length;
      },
      [`Lectern renderPage (with results), lec3 x ${LEC_REPEAT}`]: async () => {
        for (let i = 0; i < LEC_REPEAT; i++) sink += renderPage(lecPage, lecResult, CTX).length;
      },
    },
    3, // warm-up rounds: the JIT has settled before anything is timed
  );
  void sink;
  const mdC = t[`markdown-it md.render, ${count} course pages`]!.median;
  const lC = t[`Lectern renderPage (with results), ${count} course pages`]!.median;
  const xC = t[`Lectern extract + renderPage, ${count} course pages`]!.median;
  const mdL = t[`markdown-it md.render, lec3 x ${LEC_REPEAT}`]!.median / LEC_REPEAT;
  const lL = t[`Lectern renderPage (with results), lec3 x ${LEC_REPEAT}`]!.median / LEC_REPEAT;
  return [
    { part: "rendering", measure: `markdown-it alone, ${count} course pages`, value: fmtMs(mdC), ratio: "1.00x" },
    { part: "rendering", measure: `renderPage with results, ${count} course pages`, value: fmtMs(lC), ratio: `${fmtRatio(lC / mdC)} markdown-it` },
    { part: "rendering", measure: `extract + renderPage, ${count} course pages`, value: fmtMs(xC), ratio: `${fmtRatio(xC / mdC)} markdown-it` },
    { part: "rendering", measure: "markdown-it alone, lec3 (one page)", value: fmtMs(mdL), ratio: "1.00x" },
    { part: "rendering", measure: "renderPage with results, lec3 (one page)", value: fmtMs(lL), ratio: `${fmtRatio(lL / mdL)} markdown-it` },
  ];
}

await standalone(import.meta.url, rendering);
