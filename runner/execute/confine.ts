// The runner's side of confinement: whether cells run inside bubblewrap (or why not, said once
// per run, an error with --require-sandbox), and what one cell sees there: its environment and
// its view of the disk.
import { dirname, join, resolve } from "node:path";
import { LecternError } from "../errors.ts";
import { portEnv } from "../plan/plan.ts";
import { MISSING_PROTECTIONS, probeSandbox } from "./bwrap.ts";
import { buildEnter } from "./enter.ts";
import { warmSpawner } from "./spawner.ts";
import type { CellConfine } from "./sandbox.ts";

export interface ConfineOptions {
  cacheDir: string;
  /** --require-sandbox: a machine without bubblewrap is an error (exit 2), not a warning. */
  requireSandbox?: boolean;
  /** --allow-read=PATH,...: more the cells may read (absolute paths that exist). */
  allowRead?: string[];
  /** --allow-write=PATH,...: what the cells may write besides their scratch folder. */
  allowWrite?: string[];
  /** Where the once-per-run warning goes (stderr for the CLI); not said when absent. */
  warn?: (message: string) => void;
  /** Run unconfined on purpose, without a warning: the benchmark's baseline (LECTERN_SANDBOX=off for users). */
  unconfined?: boolean;
}

// Once per Lectern process: a build of a hundred pages warns once, not a hundred times.
let warned = false;

/** The bwrap binary to confine cells with, or null (warned once, or an error when required). */
export async function sandboxFor(options: ConfineOptions): Promise<string | null> {
  // The helper that starts every cell in its cgroups and namespace (enter.ts), confined or not.
  const helper = buildEnter();
  warmSpawner();
  if (options.unconfined && !options.requireSandbox) return (await helper, null);
  const [probe] = await Promise.all([probeSandbox(), helper]);
  if (probe.bwrap) return probe.bwrap;
  if (options.requireSandbox) {
    throw new LecternError("E_SANDBOX", `--require-sandbox: cells cannot be sandboxed on this machine (${probe.why}); install bubblewrap (Debian: apt-get install bubblewrap) or run without --require-sandbox`);
  }
  if (!warned) {
    warned = true;
    options.warn?.(`lectern: warning: cells run without a sandbox (${probe.why}): ${MISSING_PROTECTIONS}. --require-sandbox makes this an error\n`);
  }
  return null;
}

const PORT_PREFIX = "LECTERN_PORT_";

export const confineCell = {
  /**
   * The cell's environment: the run's, with only the ports this cell names, so a cell cannot
   * learn the number of a port it does not use (and squat it) from its environment.
   */
  env(env: Record<string, string>, ports: string[]): Record<string, string> {
    const mine = new Set(ports.map(portEnv));
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (!k.startsWith(PORT_PREFIX) || mine.has(k)) out[k] = v;
    return out;
  },

  /** What the cell sees of the disk besides the system: its page's folder and the files it runs. */
  view(options: ConfineOptions, page: string, files: string[]): CellConfine {
    const pageDir = dirname(resolve(page));
    return {
      pageDir,
      files,
      // Lectern's own data, when it lives in the page's folder: the cache, the site, git's store.
      hide: [resolve(options.cacheDir), join(pageDir, ".lectern"), join(pageDir, "site"), join(pageDir, ".git")],
      allowRead: options.allowRead ?? [],
      allowWrite: options.allowWrite ?? [],
    };
  },
};
