// Submissions -> the code each student wrote for each exercise. A submission is a copy of the
// page with the exercise cells filled in (only their code is taken: the page's servers, checks
// and attributes stay the teacher's), a folder of NAME.ts files named after the exercise cells,
// or one such file. It is named by its file (without .md) or folder name.
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join, relative, resolve, sep } from "node:path";
import { LecternError } from "../errors.ts";
import { decodeUtf8, extractPage } from "../extract/extract.ts";
import { readPageBytes } from "../extract/source.ts";
import { cellFileName } from "../render/render.ts";
import type { Cell } from "../types.ts";

/** One student's work: code by exercise name, and why an exercise has none. */
export interface Submission {
  name: string;
  path: string;
  code: Map<string, string>;
  /** Why an exercise has no code (missing file, a page that cannot be read), by exercise name. */
  missing: Map<string, string>;
}

/** The largest source file taken from a submission folder, as a page's own limit is 8 MiB. */
const MAX_FILE = 1 << 20;

const usage = (message: string, file?: string) => new LecternError("E_USAGE", message, file ? { file } : {});

/**
 * Every submission, named and read; a path that does not exist, two submissions with one name, or
 * one inside the page's folder (which every cell of the page can read) is a usage error.
 */
export async function readSubmissions(paths: string[], pagePath: string, exercises: Cell[]): Promise<Submission[]> {
  const pageDir = dirname(resolve(pagePath));
  const seen = new Map<string, string>();
  const out: Submission[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (!info) throw usage("no such submission (a page, a folder of NAME.ts files, or one such file)", path);
    const full = resolve(path);
    if (full === resolve(pagePath)) throw usage("this is the page itself, not a submission", path);
    if (full === pageDir || full.startsWith(pageDir + sep)) {
      throw usage(`submissions must be outside the page's folder (${relative(process.cwd(), pageDir) || "."}/): every cell of the page can read that folder, so one student's program could read another's work`, path);
    }
    const name = info.isDirectory() ? basename(full) : basename(full).replace(/\.md$/i, "");
    const earlier = seen.get(name);
    if (earlier !== undefined) throw usage(`two submissions are named "${name}" (${earlier} and ${path}): a submission is named by its file or folder`, path);
    seen.set(name, path);
    const read = info.isDirectory() ? fromFolder(full, exercises) : extname(full).toLowerCase() === ".md" ? fromPage(full, exercises) : fromFile(full, exercises);
    out.push({ name, path, ...(await read) });
  }
  return out;
}

type Work = Pick<Submission, "code" | "missing">;

/** A copy of the page: the code of each cell named like an exercise. A page that cannot be read misses every exercise. */
async function fromPage(path: string, exercises: Cell[]): Promise<Work> {
  const work: Work = { code: new Map(), missing: new Map() };
  try {
    const page = extractPage(path, decodeUtf8(path, await readPageBytes(path)));
    for (const ex of exercises) {
      const cell = page.cells.find((c) => c.name === ex.name);
      if (cell) work.code.set(ex.name, cell.code);
      else work.missing.set(ex.name, `no cell named ${ex.name} in ${basename(path)}`);
    }
  } catch (err) {
    if (!(err instanceof LecternError)) throw err;
    for (const ex of exercises) work.missing.set(ex.name, `the page cannot be read: ${err.report().replace(`${path}:`, "line ")}`);
  }
  return work;
}

/** A folder: NAME.ts (the extension the page offers for the cell's language) per exercise. */
async function fromFolder(dir: string, exercises: Cell[]): Promise<Work> {
  const work: Work = { code: new Map(), missing: new Map() };
  const files = new Set(await readdir(dir));
  for (const ex of exercises) {
    const file = cellFileName(ex);
    if (!files.has(file)) work.missing.set(ex.name, `no ${file}`);
    else await readSource(join(dir, file), ex, work);
  }
  return work;
}

/** One file, NAME.ts, for the exercise of that name; the other exercises are missing. */
async function fromFile(path: string, exercises: Cell[]): Promise<Work> {
  const work: Work = { code: new Map(), missing: new Map() };
  const file = basename(path);
  const target = exercises.find((ex) => cellFileName(ex) === file);
  if (!target) throw usage(`${file} is named after no exercise of the page (its exercises: ${exercises.map(cellFileName).join(", ")})`, path);
  for (const ex of exercises) if (ex !== target) work.missing.set(ex.name, `no ${cellFileName(ex)}`);
  await readSource(path, target, work);
  return work;
}

async function readSource(path: string, ex: Cell, work: Work): Promise<void> {
  const info = await stat(path);
  if (!info.isFile() || info.size > MAX_FILE) {
    work.missing.set(ex.name, `${basename(path)} is not a regular file of at most 1 MiB`);
    return;
  }
  const bytes = await readFile(path);
  try {
    work.code.set(ex.name, decodeUtf8(path, bytes));
  } catch {
    work.missing.set(ex.name, `${basename(path)} is not UTF-8`);
  }
}
