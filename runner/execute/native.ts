// C cells -> binaries, compiled by Lectern with the system's cc (outside the sandbox: the
// compiler writes into the cache, which cells never see) and cached by content hash, as
// TypeScript cells are; checked against the digest written beside them before reuse. A `#line`
// directive puts the code at its page lines, so a compiler error names `page.md:LINE:COL`.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeAtomic } from "../atomic.ts";
import { LecternError } from "../errors.ts";
import { CELLS_DIR } from "../paths.ts";
import type { Cell } from "../types.ts";
import { sha, toolchainKey } from "../digest.ts";
import type { Compiled } from "./compile.ts";
import { runProgram, type Tool } from "./tools.ts";

/** What every C cell is linked with: cells/lectern_rt.c, and its wrappers of the socket calls. */
const RUNTIME_C = join(CELLS_DIR, "lectern_rt.c");
const WRAPPED = ["connect", "bind", "listen", "accept", "send", "sendto", "recv", "recvfrom", "close"];
/** The flags of `run` and `check` alike, so that what check accepts is what runs. */
export const C_FLAGS = ["-std=gnu17", "-Wall", "-I", CELLS_DIR];

/** The cell's code as the compiler sees it: at its own lines of its page. */
export function cSource(cell: Cell, page: string): string {
  return `#line ${cell.line + 1} ${JSON.stringify(page)}\n${cell.code}`;
}

/** A diagnostic of gcc's: `file:line:col: error: message`. */
export interface CDiagnostic {
  file: string;
  line: number;
  column: number;
  category: "error" | "warning" | "note";
  message: string;
}

export function parseDiagnostics(stderr: string): CDiagnostic[] {
  const out: CDiagnostic[] = [];
  for (const m of stderr.matchAll(/^(.+?):(\d+):(\d+): (fatal error|error|warning|note): (.*)$/gm)) {
    out.push({ file: m[1]!, line: Number(m[2]), column: Number(m[3]), category: m[4] === "fatal error" ? "error" : (m[4] as CDiagnostic["category"]), message: m[5]! });
  }
  return out;
}

/** Runs cc with `input` on its stdin; resolves with its status and what it printed. */
export function runCc(cc: Tool, args: string[], input: string): Promise<{ code: number | null; stderr: string }> {
  return runProgram(cc.path, args, { input, env: { ...process.env, LC_ALL: "C" } });
}

const digestOf = (file: string) => {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 32);
  } catch {
    return null;
  }
};

/** The cell's binary, compiled now or found in the cache (and still what Lectern wrote). */
export async function compileC(cell: Cell, pagePath: string, cacheDir: string, cc: Tool): Promise<Compiled> {
  const key = sha(cell.code, String(cell.line), resolve(pagePath), toolchainKey(), cc.stamp);
  const file = join(cacheDir, "compiled", `${key}.bin`);
  const digestFile = `${file}.sha`;
  const known = existsSync(digestFile) ? readFileSync(digestFile, "utf8") : null;
  if (known !== null && digestOf(file) === known) return { file, digest: known, inputs: {} };
  // The binary goes to a temporary name and is renamed only once it is whole.
  const partial = `${file}.${process.pid}.tmp`;
  const args = [...C_FLAGS, "-O1", "-fdiagnostics-plain-output", "-x", "c", "-", "-x", "none", RUNTIME_C, `-Wl,${WRAPPED.map((f) => `--wrap=${f}`).join(",")}`, "-o", partial];
  mkdirSync(join(cacheDir, "compiled"), { recursive: true });
  const { code, stderr } = await runCc(cc, args, cSource(cell, pagePath));
  if (code !== 0) {
    rmSync(partial, { force: true });
    const first = parseDiagnostics(stderr).find((d) => d.category === "error");
    const err = new LecternError(
      "E_COMPILE",
      `cell "${cell.name}" does not compile: ${first?.message ?? (stderr.trim().split("\n").pop() || `cc exited with status ${code}`)}`,
      { file: pagePath, line: first?.line ?? cell.line, column: first?.column },
    );
    throw Object.assign(err, { details: stderr });
  }
  renameSync(partial, file);
  const digest = digestOf(file)!;
  await writeAtomic(digestFile, digest);
  return { file, digest, inputs: {} };
}
