// Paths on the command line -> planned pages: files as given, folders as every .md in them.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { LecternError } from "./errors.ts";
import { readPage } from "./extract.ts";
import { planPage } from "./plan.ts";
import type { Plan } from "./types.ts";

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

/** Every page read and planned before anything runs, so one invalid page stops all of them. */
export async function planAll(paths: string[]): Promise<Plan[]> {
  const plans: Plan[] = [];
  for (const path of await collectPages(paths)) plans.push(await planPage(await readPage(path)));
  return plans;
}
