// A cell's first process (enter.c): joins the cell's cgroups, enters the page's network namespace
// and ignores SIGTERM for bwrap in one small exec, where `sh -c JOIN` then `nsenter` took two
// (about 3.5 ms of a cell's start on the bench machine). Compiled with the system's cc once per
// version of its source, beside the runner as the CLI's bundle is (never in a folder others may
// write to: it runs with Lectern's rights); without cc, or where that fails, cells start through
// sh and nsenter as before. The spawner (spawner.c) is compiled the same way.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RUNNER_DIR } from "../paths.ts";
import { findTool } from "./tools.ts";

const writable = (dir: string) => {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

const building = new Map<string, Promise<string | null>>();
let built: string | null = null;

/**
 * Compiles one of Lectern's C helpers (execute/NAME.c) if this machine has cc and it is not there
 * yet; its path, or null.
 */
export function buildHelper(name: "enter" | "spawner"): Promise<string | null> {
  let made = building.get(name);
  if (made) return made;
  made = (async () => {
    const cc = findTool("cc", process.env.PATH, false);
    if (!cc) return null;
    const source = join(RUNNER_DIR, "execute", `${name}.c`);
    const text = readFileSync(source, "utf8");
    // The files it includes from beside it are part of its build (the spawner includes enter.c).
    const own = [...text.matchAll(/^#include "([^"]+)"/gm)].map((m) => readFileSync(join(RUNNER_DIR, "execute", m[1]!)));
    const key = own.reduce((h, part) => h.update(part), createHash("sha256").update(text)).update(cc.stamp).digest("hex").slice(0, 16);
    const file = join(RUNNER_DIR, `.${name}-${key}`);
    if (!existsSync(file)) {
      // A runner folder we may not write to (an installed copy) would cost a compile every run.
      if (!writable(RUNNER_DIR)) return null;
      // Built aside and renamed into place whole: a Lectern beside this one never runs half a file.
      const partial = `${file}.${process.pid}.tmp`;
      const ok = await new Promise<boolean>((done) => {
        const child = spawn(cc.path, ["-std=gnu17", "-O2", "-Wall", source, "-o", partial], { stdio: "ignore", env: { PATH: "/usr/bin:/bin", LC_ALL: "C" } });
        child.on("error", () => done(false));
        child.on("close", (code) => done(code === 0));
      });
      try {
        if (!ok) throw new Error("cc failed");
        renameSync(partial, file);
      } catch {
        rmSync(partial, { force: true });
        return null;
      }
      // Builds of older sources are of no more use (as the CLI's bundles: bin.mjs). A process
      // still running one keeps it until it exits.
      for (const old of readdirSync(RUNNER_DIR)) if (old.startsWith(`.${name}-`) && /^\.[a-z]+-[0-9a-f]{16}$/.test(old) && join(RUNNER_DIR, old) !== file) rmSync(join(RUNNER_DIR, old), { force: true });
    }
    return file;
  })();
  building.set(name, made);
  return made;
}

/** Compiles the enter helper (see buildHelper); enterCommand() uses it from then on. */
export async function buildEnter(): Promise<string | null> {
  built = await buildHelper("enter");
  return built;
}

/** The enter helper's path once built: the spawner does its work itself for a command line of it. */
export const enterHelper = (): string | null => built;

/**
 * The command line that starts `inside` as a cell's first process through the helper: in the
 * cgroups `dirs`, ignoring SIGTERM if asked, and in the network namespace that an `nsenter --net=`
 * in front of it would have entered. Null until buildEnter() has made the helper (or without it):
 * the caller then starts the cell through sh. `pdeathsig`: it dies with Lectern (a helper of
 * Lectern's, such as tcpdump, in place of `setpriv --pdeathsig KILL`).
 */
export function enterCommand(dirs: string[], ignoreTerm: boolean, inside: { command: string; args: string[] }, pdeathsig = false): { command: string; args: string[] } | null {
  if (built === null) return null;
  const a = inside.args;
  // Only the plain form, `nsenter --net=PATH -- COMMAND...`; any other (a user namespace too, when
  // rootless) keeps its nsenter after the helper.
  const fold = inside.command === "nsenter" && a.length >= 3 && a[0]!.startsWith("--net=") && a[1] === "--";
  const [command, args] = fold ? [a[2]!, a.slice(3)] : [inside.command, a];
  const flags = [...(fold ? [a[0]!] : []), ...(ignoreTerm ? ["--ignore-term"] : []), ...(pdeathsig ? ["--pdeathsig"] : [])];
  return { command: built, args: [...flags, ...dirs, "--", command, ...args] };
}
