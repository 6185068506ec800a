// What Lectern puts in a Python cell's process (cells/python: sitecustomize, `lectern` and the boot
// they load), as bytecode: compiled once per python3 and per version of those files into the
// cache, then read by every cell. Cells run with PYTHONDONTWRITEBYTECODE in a read-only view of the
// disk, so from cells/ itself Python compiled these files from source at every start: about a
// sixth of a `python3 hello.py`.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CELLS_DIR } from "../paths.ts";
import type { Tool } from "./tools.ts";

/** The sources: where Python cells find `lectern` when nothing is compiled (and what is copied). */
export const PYTHON_DIR = join(CELLS_DIR, "python");

const SOURCES = readdirSync(PYTHON_DIR)
  .filter((f) => f.endsWith(".py"))
  .sort();

/** Written last into a finished folder, with the digest of the rest: one without it was cut short. */
const DONE = ".digest";

/** Every file of the folder (sources and bytecode), names and contents, in one digest. */
function digestOf(dir: string): string | null {
  try {
    const h = createHash("sha256");
    for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()) {
      if (f === DONE || !/\.pyc?$/.test(f)) continue;
      h.update(f).update("\0").update(readFileSync(join(dir, f))).update("\0");
    }
    return h.digest("hex").slice(0, 32);
  } catch {
    return null;
  }
}

const sha = (...parts: string[]) => createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 32);

const made = new Map<string, Promise<string>>();
let sources: string | null = null;

/**
 * The folder Python cells put first on their PYTHONPATH: a copy of cells/python with its
 * `__pycache__`, in the cache, for this python3. Falls back to cells/python itself (compiled from
 * source at each start, as before) when python3 cannot compile it.
 */
export function pythonSupport(cacheDir: string, python: Tool): Promise<string> {
  sources ??= sha(...SOURCES.map((f) => f + "\n" + readFileSync(join(PYTHON_DIR, f), "utf8")));
  const key = sha(sources, python.stamp);
  const dir = join(cacheDir, "python", key);
  let p = made.get(dir);
  if (!p) {
    p = make(dir, python);
    made.set(dir, p);
  }
  return p;
}

async function make(dir: string, python: Tool): Promise<string> {
  // Checked against the digest written beside it (once per process): what goes into every Python
  // cell is never a file changed since Lectern wrote it.
  if (existsSync(join(dir, DONE)) && readFileSync(join(dir, DONE), "utf8") === digestOf(dir)) return dir;
  rmSync(dir, { recursive: true, force: true });
  // Built aside and renamed into place whole, so two Lecterns at once never see half a folder.
  const partial = `${dir}.${process.pid}.tmp`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (const f of SOURCES) copyFileSync(join(PYTHON_DIR, f), join(partial, f));
  // unchecked-hash: the copy never changes (its folder is named by its content), so Python need
  // not read the source to check the bytecode against it.
  const ok = await run(python.path, ["-I", "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", partial]);
  if (!ok || !existsSync(join(partial, "__pycache__"))) {
    rmSync(partial, { recursive: true, force: true });
    return PYTHON_DIR;
  }
  writeFileSync(join(partial, DONE), digestOf(partial) ?? "");
  try {
    renameSync(partial, dir);
  } catch {
    // Another Lectern put the same folder there first: theirs is as good.
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(join(dir, DONE)) || readFileSync(join(dir, DONE), "utf8") !== digestOf(dir)) return PYTHON_DIR;
  }
  return dir;
}

function run(command: string, args: string[]): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: "ignore", env: { PATH: "/usr/bin:/bin" } });
    child.on("error", () => done(false));
    child.on("close", (code) => done(code === 0));
  });
}
