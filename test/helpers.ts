// Shared by the runner tests: a page written to a temporary folder and run for real.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { executePlan, type ExecuteOptions } from "../runner/execute/execute.ts";
import { extractPage } from "../runner/extract/extract.ts";
import { createLimiter } from "../runner/execute/limit.ts";
import { planPage } from "../runner/plan/plan.ts";
import type { CellResult, PageResult } from "../runner/types.ts";

// Every temporary folder a test makes is removed when its test file is done. (A handler for
// the process's exit never ran: vitest's workers end without one, and left thousands behind.)
const made: string[] = [];
const mounted: string[] = [];
afterAll(() => {
  // A tmpfs goes first, so that removing its folder removes a folder, not what was on it.
  for (const dir of mounted.splice(0)) spawnSync("umount", ["-l", dir]);
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export const tmp = (prefix = "lectern-test-") => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
};

/** A tmpfs of its own (`ro,size=64k`, `size=256k`: read-only, or small to fill), unmounted when the file is done; null unless root. */
export function mountTmpfs(options: string): string | null {
  const dir = tmp();
  if (process.getuid?.() !== 0 || spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]).status !== 0) return null;
  mounted.push(dir);
  return dir;
}

/** One cache for the whole test process, so each cell is compiled once. */
export const cacheDir = tmp("lectern-cache-");

export async function runSource(source: string, options: Partial<ExecuteOptions> = {}): Promise<PageResult> {
  const dir = tmp();
  const path = join(dir, "page.md");
  writeFileSync(path, source);
  const plan = await planPage(extractPage(path, source));
  return executePlan(plan, {
    cacheDir,
    timeout: 10,
    jobs: createLimiter(4),
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    maxOutput: 1024 * 1024,
    graceMs: 500,
    ...options,
  });
}

export function cell(result: PageResult, name: string): CellResult {
  const found = result.cells.find((c) => c.name === name);
  if (!found) throw new Error(`no result for ${name}`);
  return found;
}

/** True while a process with this pid runs; a zombie waiting for init to reap it is dead. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export const ts = (info: string, code: string) => "```ts " + info + "\n" + code.trim() + "\n```\n\n";

/** SIGKILL is final but not instant: gives a killed process up to two seconds to be gone. */
export async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/**
 * Host pids of the processes whose command line contains `marker`. A sandboxed cell sees only
 * its own PID namespace, so the pid it prints means nothing here: tests mark processes instead
 * (`sleep 30.123`, `process.title = "..."`) and look them up in the host's /proc.
 */
export function hostPids(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").includes(marker) && alive(Number(entry))) out.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

/** Every process marked `marker` is gone within two seconds. */
export async function allGone(marker: string): Promise<boolean> {
  for (let i = 0; i < 40 && hostPids(marker).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return hostPids(marker).length === 0;
}
