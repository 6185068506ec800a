// Course scale: 100 generated pages (a UDP pair and a TCP pair each) built as a site: cold (fresh
// cache), cached, and after editing one cell of one page; how busy the cores are during the cold
// build; peak memory of the Lectern process at 25 and 100 pages; and the cached rebuild against
// markdown-it alone rendering the same pages in a fresh process.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, CORES, NODE, QUICK, ROOT, RUNS, SLOW_RUNS, SMALL_ENV, coursePage, exec, fmtMs, fmtRatio, interleave, log, median, ok, scratch, standalone, type Exec, type Row } from "./lib.ts";

const MARKDOWN_ALONE = join(ROOT, "test", "bench", "markdown-alone.mjs");

/** Writes `count` course pages into `dir`. */
export function writeCourse(dir: string, count: number): string[] {
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (let i = 1; i <= count; i++) {
    const path = join(dir, `page-${String(i).padStart(3, "0")}.md`);
    writeFileSync(path, coursePage(i));
    paths.push(path);
  }
  return paths;
}

interface Build {
  ms: number;
  cpuS: number;
  peakMiB: number;
  json: { ok: boolean; pages: { cells: { name: string; status: string; cached: boolean }[] }[] };
}

async function build(pages: string, out: string, cache: string): Promise<Build> {
  const r: Exec = ok(await exec(NODE, [BIN, "build", pages, "--out", out, "--cache", cache, "--json"], { env: SMALL_ENV, timeoutMs: 300_000, measure: true }), `lectern build ${pages}`);
  const json = JSON.parse(r.stdout) as Build["json"];
  if (!json.ok) throw new Error(`lectern build ${pages}: not every cell passed`);
  return { ms: r.ms, cpuS: r.cpuS!, peakMiB: r.peakMiB!, json };
}

/** Cold builds (each with a fresh cache), `runs` of them; the last one's cache is kept. */
async function coldBuilds(label: string, pages: string, dir: string, runs: number): Promise<{ builds: Build[]; cache: string }> {
  const builds: Build[] = [];
  let cache = "";
  for (let i = 0; i < runs; i++) {
    if (cache) rmSync(cache, { recursive: true, force: true });
    cache = join(dir, `cache-${label}-${i}`);
    const b = await build(pages, join(dir, `out-${label}`), cache);
    log(`${`cold build, ${label}`.padEnd(58)} ${fmtMs(b.ms).padStart(10)}  cpu ${b.cpuS.toFixed(1)} s, ${((b.cpuS * 1000) / b.ms / CORES * 100).toFixed(0)}% of ${CORES} cores, peak RSS ${b.peakMiB.toFixed(0)} MiB`);
    builds.push(b);
  }
  return { builds, cache };
}

const med = (bs: Build[], f: (b: Build) => number) => median(bs.map(f));

export default async function course(): Promise<Row[]> {
  const big = QUICK ? 20 : 100;
  const small = QUICK ? 5 : 25;
  log(`\n## course scale (${big} pages of a UDP and a TCP pair; ${small} for the memory comparison)`);
  const dir = scratch("course");
  const pagesBig = join(dir, `course-${big}`);
  const pagesSmall = join(dir, `course-${small}`);
  const paths = writeCourse(pagesBig, big);
  writeCourse(pagesSmall, small);

  const coldBig = await coldBuilds(`${big} pages`, pagesBig, dir, SLOW_RUNS);
  const coldSmall = await coldBuilds(`${small} pages`, pagesSmall, dir, SLOW_RUNS);
  const coldMs = med(coldBig.builds, (b) => b.ms);
  const cpu = med(coldBig.builds, (b) => (b.cpuS * 1000) / b.ms / CORES);
  const cells = coldBig.builds[0]!.json.pages.reduce((n, p) => n + p.cells.length, 0);

  // Cached rebuild against markdown-it alone, interleaved.
  const warm = coldBig.cache;
  const cached: Build[] = [];
  const t = await interleave(RUNS, {
    [`cached rebuild, ${big} pages`]: async () => {
      const b = await build(pagesBig, join(dir, "out-cached"), warm);
      const ran = b.json.pages.flatMap((p) => p.cells).filter((c) => !c.cached).length;
      if (ran > 0) throw new Error(`cached rebuild ran ${ran} cells`);
      cached.push(b);
    },
    [`markdown-it alone, ${big} pages (fresh node process)`]: async () => ok(await exec(NODE, [MARKDOWN_ALONE, pagesBig, join(dir, "out-md")], { env: SMALL_ENV }), "markdown-alone"),
  });
  const cachedMs = t[`cached rebuild, ${big} pages`]!.median;
  const mdMs = t[`markdown-it alone, ${big} pages (fresh node process)`]!.median;
  const cachedCpu = median(cached.map((b) => b.cpuS * 1000));
  log(`cached rebuild: cpu ${fmtMs(cachedCpu)} of ${fmtMs(cachedMs)} wall`);

  // One cell of one page edited (the TCP client's message), on a copy of the warm cache.
  const editCache = join(dir, "cache-edit");
  cpSync(warm, editCache, { recursive: true });
  const target = paths[Math.floor(paths.length / 2)]!;
  const original = readFileSync(target, "utf8");
  const edits: { ms: number; ran: number; pages: number }[] = [];
  for (let i = 0; i < SLOW_RUNS; i++) {
    writeFileSync(target, original.replace(/c\.write\("hello tcp (\d+)"\)/, `c.write("edited ${i} tcp $1")`));
    const b = await build(pagesBig, join(dir, "out-edit"), editCache);
    const ran = b.json.pages.flatMap((p) => p.cells).filter((c) => !c.cached).length;
    const pages = b.json.pages.filter((p) => p.cells.some((c) => !c.cached)).length;
    log(`${"rebuild after editing one cell".padEnd(58)} ${fmtMs(b.ms).padStart(10)}  ${ran} cells ran, on ${pages} page(s)`);
    edits.push({ ms: b.ms, ran, pages });
  }
  writeFileSync(target, original);
  const editMs = median(edits.map((e) => e.ms));
  const ran = Math.max(...edits.map((e) => e.ran));
  const editPages = Math.max(...edits.map((e) => e.pages));

  const rssBig = med(coldBig.builds, (b) => b.peakMiB);
  const rssSmall = med(coldSmall.builds, (b) => b.peakMiB);
  const coldSmallMs = med(coldSmall.builds, (b) => b.ms);
  const rssCachedBig = median(cached.map((b) => b.peakMiB));
  return [
    { part: "course", measure: `cold build, ${big} pages (${cells} cells)`, value: fmtMs(coldMs), ratio: `${fmtRatio(coldMs / mdMs)} markdown-it alone; ${fmtMs(coldMs / cells)} per cell` },
    { part: "course", measure: "CPU use during the cold build", value: `${(cpu * 100).toFixed(0)}% of ${CORES} cores`, target: "both cores busy (>= 90%)", met: cpu >= 0.9 },
    { part: "course", measure: `cached rebuild, ${big} pages`, value: fmtMs(cachedMs), ratio: `${fmtRatio(cachedMs / mdMs)} markdown-it alone (CPU ${fmtMs(cachedCpu)})`, target: "<= 2x markdown-it", met: cachedMs / mdMs <= 2 },
    { part: "course", measure: `markdown-it alone, ${big} pages, fresh process`, value: fmtMs(mdMs), ratio: "1.00x" },
    { part: "course", measure: "rebuild after editing one cell", value: fmtMs(editMs), ratio: `${ran} cells reran, on ${editPages} page(s)`, target: "one page's cells", met: editPages === 1 },
    { part: "course", measure: `cold build, ${small} pages`, value: fmtMs(coldSmallMs) },
    { part: "course", measure: `peak RSS of lectern, cold, ${small} -> ${big} pages`, value: `${rssSmall.toFixed(0)} -> ${rssBig.toFixed(0)} MiB`, ratio: `${fmtRatio(rssBig / rssSmall)} for ${big / small}x the pages`, target: "flat (<= 1.25x)", met: rssBig / rssSmall <= 1.25 },
    { part: "course", measure: `peak RSS of lectern, cached rebuild, ${big} pages`, value: `${rssCachedBig.toFixed(0)} MiB` },
  ];
}

await standalone(import.meta.url, course);
