// Where a page's cells run, on Linux where the machine allows it: one network namespace per page
// run with only loopback in it, each cell confined by bubblewrap inside it (bwrap.ts), and per
// cell a pids cgroup (caps forks, finds every process the cell started even if it left its
// process group) and a memory cgroup (caps its memory), both applied from outside.
// Elsewhere: the preload's loopback guard and V8's heap limit.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Reservations } from "../plan/ports.ts";
import { bwrapArgs, type Confine } from "./bwrap.ts";
import { holdNamespace, ROOTLESS, type Holder } from "./holder.ts";

const MAX_PIDS = 256;
export const MEMORY_LIMIT_MIB = 512;

export interface SandboxOptions {
  /** Give the cells their own network namespace (off with --allow-net or pinned ports). */
  isolateNet: boolean;
  /** The bwrap binary that confines each cell (probeSandbox), or null: cells run unconfined. */
  bwrap: string | null;
}

/** What one cell's confinement needs to know besides the command (bwrap.ts). */
export type CellConfine = Omit<Confine, "env" | "scratch">;

export interface Sandbox {
  /** What the cells get: "namespace" (only loopback exists) or "guard" (the preload refuses other hosts). */
  readonly net: "namespace" | "guard";
  /** True when a memory cgroup caps each cell; otherwise the runner asks V8 for a heap limit. */
  readonly memoryCapped: boolean;
  /** True when each cell runs inside bubblewrap. */
  readonly confined: boolean;
  /**
   * The command line that starts `command args` for a cell: inside the page's network namespace,
   * if any, and inside bubblewrap with `confine`'s view of the disk and `env`, if confined.
   */
  wrap(command: string, args: string[], env: Record<string, string>, confine: CellConfine): { command: string; args: string[] };
  /**
   * Reserves the page's named ports inside its network namespace, until handOver(); null where
   * there is no namespace (or no perl to hold ports in it): plan/ports.ts reserves them then.
   */
  reserve(names: string[], served: Set<string>): Promise<Reservations> | null;
  /** The command line that starts a helper of Lectern's (not a cell) in the page's network namespace. */
  inNet(command: string, args: string[]): { command: string; args: string[] };
  /**
   * Puts a just-spawned cell into cgroups of its own. Called as soon as spawn() returns: the
   * process is still starting node then, long before its code could fork or allocate much.
   */
  adopt(cell: string, pid: number): void;
  /** True if the cell ran into its memory limit (the kernel then kills it). */
  outOfMemory(cell: string): boolean;
  /** Kills every process still in the cell's cgroups and removes them (no-op without cgroups). */
  sweep(cell: string): void;
  close(): void;
}

/** A cgroup v1 hierarchy we may make groups in: where, and how to set one up for a cell. */
interface Controller {
  root: string;
  setup: (dir: string) => void;
}

const pidsOf = (dir: string) => {
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

/** Kills what is in a cell's group (bounded: pids.max caps a fork bomb) and removes the group. */
function empty(dir: string): boolean {
  for (let round = 0; round < 20; round++) {
    const pids = pidsOf(dir);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false; // a process not yet reaped; tried again later
  }
}

let controllers: Controller[] | null = null;

/**
 * The hierarchies this process may use, found once. Groups left by a Lectern that was killed
 * (SIGKILL, out of memory) are emptied and removed, so its cells do not run on forever.
 */
function findControllers(): Controller[] {
  if (controllers) return controllers;
  controllers = [];
  const own = (name: string) =>
    readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .map((l) => l.split(":"))
      .find((f) => f[1] === name)?.[2] ?? null;
  const candidates: [string, string | null, (dir: string) => void][] = [
    ["pids", "/sys/fs/cgroup/pids", (dir) => writeFileSync(join(dir, "pids.max"), String(MAX_PIDS))],
    ["memory", null, (dir) => writeFileSync(join(dir, "memory.limit_in_bytes"), String(MEMORY_LIMIT_MIB * 1024 * 1024))],
  ];
  for (const [name, fixed, setup] of candidates) {
    let root: string;
    try {
      // Memory groups go under the one we are in, where our own limits apply too.
      root = join(fixed ?? join("/sys/fs/cgroup", name, own(name) ?? "/"), "lectern");
      if (!existsSync(join(root, ".."))) continue;
      mkdirSync(root, { recursive: true });
    } catch {
      continue;
    }
    controllers.push({ root, setup });
    for (const group of readdirSync(root)) {
      const owner = Number(group.split("-")[0]);
      if (owner === process.pid) continue;
      try {
        process.kill(owner, 0);
      } catch {
        empty(join(root, group));
      }
    }
  }
  return controllers;
}

let sequence = 0;

// The next page's namespace, started while this one runs: making one costs a few milliseconds
// (unshare, ip) that a page of one cell would otherwise wait for. Killed at exit if unused.
let spare: Promise<Holder | null> | null = null;

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const hierarchies = findControllers();
  let holder: Holder | null = null;
  if (options.isolateNet) {
    // Taken before any await: two pages starting at once must not share one.
    const mine = spare ?? holdNamespace();
    spare = holdNamespace();
    holder = await mine;
    // A spare that died while it waited is no namespace to enter.
    if (holder && !holder.alive()) holder = await holdNamespace();
  }
  const run = `${process.pid}-${++sequence}`;
  const groups = new Map<string, string[]>();
  const memory = hierarchies.find((c) => c.root.includes("/memory/"));

  const sweep = (cell: string) => {
    const dirs = groups.get(cell) ?? [];
    const left = dirs.filter((dir) => !empty(dir));
    if (left.length > 0) groups.set(cell, left);
    else groups.delete(cell);
  };

  // A cell joins the page's namespace (nsenter) before bwrap confines it: bwrap cannot join one.
  const inNet = (command: string, args: string[]) => {
    if (!holder) return { command, args };
    const user = ROOTLESS ? [`--user=/proc/${holder.pid}/ns/user`, "--preserve-credentials"] : [];
    return { command: "nsenter", args: [...user, `--net=/proc/${holder.pid}/ns/net`, "--", command, ...args] };
  };
  const { bwrap } = options;
  const scratch = bwrap ? mkdtempSync(join(tmpdir(), "lectern-scratch-")) : null;

  return {
    net: holder ? "namespace" : "guard",
    memoryCapped: memory !== undefined,
    confined: bwrap !== null,
    inNet,
    reserve: (names, served) => holder?.reserve(names, served) ?? null,
    wrap(command, args, env, confine) {
      if (!bwrap || !scratch) return inNet(command, args);
      const inside = inNet(bwrap, [...bwrapArgs({ ...confine, env, scratch }), command, ...args]);
      // bwrap ignores SIGTERM (node and the shells under it reset that), so Lectern's SIGTERM to
      // the group reaches the cell, which may handle it, and bwrap reports how the cell ended.
      return { command: "env", args: ["--ignore-signal=TERM", inside.command, ...inside.args] };
    },
    adopt(cell, pid) {
      for (const { root, setup } of hierarchies) {
        const dir = join(root, `${run}-${cell}`);
        try {
          mkdirSync(dir);
          setup(dir);
          writeFileSync(join(dir, "cgroup.procs"), String(pid));
          groups.set(cell, [...(groups.get(cell) ?? []), dir]);
        } catch {
          // No group here for this cell: its process group and timeout still bound it.
        }
      }
    },
    outOfMemory(cell) {
      const dir = groups.get(cell)?.find((d) => memory && d.startsWith(memory.root));
      if (!dir) return false;
      // Killed by the kernel's OOM killer, or at least pushed against the limit (failcnt):
      // the caller asks only about a cell that died as programs die at the limit (verdict.ts).
      const read = (file: string) => {
        try {
          return readFileSync(join(dir, file), "utf8");
        } catch {
          return "";
        }
      };
      return /^oom_kill [1-9]/m.test(read("memory.oom_control")) || Number(read("memory.failcnt")) > 0;
    },
    sweep,
    close() {
      for (const cell of [...groups.keys()]) sweep(cell);
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      holder?.kill();
    },
  };
}

/**
 * Spawns a helper program of Lectern's (tcpdump for the wire trace, say) inside the page's
 * network namespace, unconfined: it sees the cells' traffic on the namespace's loopback.
 * Without a namespace it runs in Lectern's own.
 */
export function spawnInPageNet(sandbox: Sandbox, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const wrapped = sandbox.inNet(command, args);
  return spawn(wrapped.command, wrapped.args, options);
}
