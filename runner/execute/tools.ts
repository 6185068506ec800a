// The programs a language needs besides node (python3, cc): found once per PATH, as the real file
// a cell can run. Inside bubblewrap a cell sees only the system (/usr and the top-level links to
// it), so a python3 from a user's own tree (pyenv's shims under /root/.pyenv) is passed over for
// the system's one; a cell that needs a program nobody has fails alone, with one clear message.
import { spawn } from "node:child_process";
import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { LecternError } from "../errors.ts";

/** Where a confined cell can see programs: what bwrap.ts mounts of the system. */
const SYSTEM = ["/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/"];

export interface Tool {
  /** The file to run: the real path behind PATH's links, so it is the same inside the sandbox. */
  path: string;
  /** What identifies this build of it in a cache key: its path, size and modification time. */
  stamp: string;
}

const found = new Map<string, Tool | null>();

/**
 * `name` on `path`, as the real file: the first one in the system (the one a confined cell can
 * see, so a cell runs with the same python3 in the sandbox and out of it), else, for an
 * unconfined cell, the first one anywhere; null when there is none.
 */
export function findTool(name: string, path: string | undefined, confined: boolean): Tool | null {
  const memo = `${name}\0${path}\0${confined}`;
  if (found.has(memo)) return found.get(memo)!;
  const candidates: string[] = [];
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      const file = realpathSync(join(dir, name));
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) candidates.push(file);
    } catch {
      // Not here.
    }
  }
  const inSystem = candidates.find((file) => SYSTEM.some((top) => file.startsWith(top)));
  const file = inSystem ?? (confined ? undefined : candidates[0]);
  let tool: Tool | null = null;
  if (file !== undefined) {
    const st = statSync(file);
    tool = { path: file, stamp: `${file}:${st.size}:${st.mtimeMs}` };
  }
  found.set(memo, tool);
  return tool;
}

/** The cell's failure when its language's program is missing: the page's other cells still run. */
export function missingTool(name: string, install: string, where: { file: string; line: number }): LecternError {
  return new LecternError("E_NO_TOOL", `${name} not found: install it (${install}), or mark the cell skip`, where);
}

/**
 * Runs a program of Lectern's own (cc, python3 checking cells, ip) to its end, `input` on its
 * stdin: how it exited and what it printed. Rejects only when it cannot be started.
 */
export function runProgram(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
    if (options.input !== undefined) {
      child.stdin!.on("error", () => {});
      child.stdin!.end(options.input);
    }
  });
}
