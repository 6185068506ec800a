// Paths on the command line -> planned pages: files as given, folders as every .md in them.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { LecternError } from "../errors.ts";
import { portMemo } from "../cache/memo.ts";
import { readPage } from "../extract/extract.ts";
import { createLimiter, mapLimit } from "../execute/limit.ts";
import { planPage } from "./plan.ts";
import type { Plan } from "../types.ts";

export async function collectPages(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new LecternError("E_NO_FILE", "no such page or folder", { file: path });
    }
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((n) => n.endsWith(".md") && !n.startsWith(".")).sort();
      if (names.length === 0) throw new LecternError("E_NO_FILE", "this folder has no .md pages", { file: path });
      out.push(...names.map((n) => join(path, n)));
    } else {
      out.push(path);
    }
  }
  return [...new Set(out)];
}

/**
 * Every page read and planned before anything runs, so one invalid page stops all of them.
 * Pages are planned side by side (esbuild answers many at once); every invalid page is
 * reported, in page order (an AggregateError of them when there are several).
 */
export async function planAll(paths: string[], cacheDir?: string): Promise<Plan[]> {
  const files = await collectPages(paths);
  const memo = cacheDir === undefined ? undefined : portMemo(cacheDir);
  const settled = await mapLimit(files, createLimiter(8), (path) =>
    readPage(path).then((page) => planPage(page, memo)).then(
      (plan) => ({ plan, error: null }),
      (error: unknown) => ({ plan: null, error }),
    ),
  );
  await memo?.flush();
  // Every invalid page at once, so a course is fixed in one round, not one page per build.
  const failed = settled.filter((s) => s.error !== null).map((s) => s.error);
  if (failed.length > 1 && failed.every((e) => e instanceof LecternError)) throw new AggregateError(failed, `${failed.length} invalid pages`);
  if (failed.length > 0) throw failed.find((e) => !(e instanceof LecternError)) ?? failed[0];
  return settled.map((s) => s.plan!);
}

/** The one page `run` and `list` take: a folder is a mistake worth naming, not its first page. */
export async function onePage(paths: string[], command: string, cacheDir?: string): Promise<Plan> {
  if (paths.length !== 1) throw new LecternError("E_USAGE", `${command} takes one PAGE (a .md file)`);
  const [path] = paths as [string];
  let folder = false;
  try {
    folder = (await stat(path)).isDirectory();
  } catch {
    // Missing: planAll says so with the path.
  }
  if (folder) throw new LecternError("E_USAGE", `${command} takes one page, and this is a folder: name one of its .md files`, { file: path });
  return (await planAll([path], cacheDir))[0]!;
}
