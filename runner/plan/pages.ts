// Paths on the command line -> planned pages: files as given, folders as every .md in them.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { LecternError } from "../errors.ts";
import { portMemo } from "../cache/memo.ts";
import { readPage } from "../extract/extract.ts";
import { unreadable } from "../extract/source.ts";
import { createLimiter, mapLimit } from "../execute/limit.ts";
import { planPage } from "./plan.ts";
import type { Plan } from "../types.ts";

/** Where a page Lectern will not read is reported (stderr by default). */
export type Warn = (message: string) => void;

const toStderr: Warn = (message) => void process.stderr.write(`lectern: ${message}\n`);

/**
 * The pages to read. A folder's .md entries that are not regular files (a FIFO, a link to a
 * device or to itself) or are too large are skipped and reported; a page named on the command
 * line that is one of them is an error.
 */
export async function collectPages(paths: string[], warn: Warn = toStderr): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new LecternError("E_NO_FILE", code === "ENOENT" || code === "ENOTDIR" ? "no such page or folder" : (await unreadable(path))!, { file: path });
    }
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((n) => n.endsWith(".md") && !n.startsWith(".")).sort();
      if (names.length === 0) throw new LecternError("E_NO_FILE", "this folder has no .md pages", { file: path });
      for (const name of names) {
        const why = await unreadable(join(path, name));
        if (why) warn(`skipped ${join(path, name)}: ${why}`);
        else out.push(join(path, name));
      }
    } else {
      const why = await unreadable(path);
      if (why) throw new LecternError("E_NO_FILE", why, { file: path });
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
export async function planAll(paths: string[], cacheDir?: string, warn?: Warn): Promise<Plan[]> {
  const files = await collectPages(paths, warn);
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
