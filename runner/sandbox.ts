// Where a page's cells run, on Linux where the machine allows it: one network namespace per page
// run with only loopback in it, and a pids cgroup per cell that caps forks and finds every
// process the cell started, even one that left its process group. Elsewhere: a guard only.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const PIDS_ROOT = "/sys/fs/cgroup/pids";
const MAX_PIDS = 256;

export interface SandboxOptions {
  /** Give the cells their own network namespace (off with --allow-net or pinned ports). */
  isolateNet: boolean;
}

export interface Sandbox {
  /** What the cells get: "namespace" (only loopback exists) or "guard" (the preload refuses other hosts). */
  readonly net: "namespace" | "guard";
  /** The command line that starts `command args` inside the page's network namespace, if any. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /**
   * Puts a just-spawned cell into a cgroup of its own. Called as soon as spawn() returns: the
   * process is still starting node then, long before its code could fork.
   */
  adopt(cell: string, pid: number): void;
  /** Kills every process still in the cell's cgroup (no-op without cgroups). */
  sweep(cell: string): void;
  close(): void;
}

let sequence = 0;

let cgroupsChecked: boolean | null = null;

/** True where this process may make pids cgroups; empty ones left by dead Lectern runs are removed. */
function canUseCgroups(): boolean {
  if (cgroupsChecked !== null) return cgroupsChecked;
  const root = join(PIDS_ROOT, "lectern");
  try {
    mkdirSync(root, { recursive: true });
    cgroupsChecked = true;
  } catch {
    cgroupsChecked = false;
    return false;
  }
  for (const name of readdirSync(root)) {
    const owner = Number(name.split("-")[0]);
    if (owner === process.pid) continue;
    try {
      process.kill(owner, 0);
    } catch {
      try {
        rmdirSync(join(root, name));
      } catch {
        // Still has processes in it: leave it to the sweep of whoever owns it, or to the admin.
      }
    }
  }
  return true;
}

/** Starts a process that holds a fresh network namespace with loopback up; null if not allowed here. */
function holdNamespace(): Promise<ChildProcess | null> {
  return new Promise((resolve) => {
    let holder: ChildProcess;
    try {
      holder = spawn("unshare", ["--net", "--", "sh", "-c", "ip link set lo up && echo up && exec sleep 2147483647"], {
        stdio: ["ignore", "pipe", "ignore"],
        detached: true,
      });
    } catch {
      resolve(null);
      return;
    }
    let out = "";
    holder.on("error", () => resolve(null));
    holder.on("exit", () => resolve(null));
    holder.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("up\n")) {
        holder.stdout!.destroy();
        holder.unref();
        resolve(holder);
      }
    });
  });
}

const holders = new Set<ChildProcess>();
process.on("exit", () => {
  for (const h of holders) h.kill("SIGKILL");
});

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const cgroups = canUseCgroups();
  const holder = options.isolateNet ? await holdNamespace() : null;
  if (holder) holders.add(holder);
  const run = `${process.pid}-${++sequence}`;
  const groups = new Map<string, string>();

  const sweep = (cell: string) => {
    const dir = groups.get(cell);
    if (!dir) return;
    // Bounded: a fork bomb is capped by pids.max, so a few rounds empty the group.
    for (let round = 0; round < 20; round++) {
      let pids: number[] = [];
      try {
        pids = readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
      } catch {
        break;
      }
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
      groups.delete(cell);
    } catch {
      // Zombies not yet reaped keep it busy; close() tries again.
    }
  };

  return {
    net: holder ? "namespace" : "guard",
    wrap(command, args) {
      if (!holder) return { command, args };
      return { command: "nsenter", args: [`--net=/proc/${holder.pid}/ns/net`, "--", command, ...args] };
    },
    adopt(cell, pid) {
      if (!cgroups) return;
      const dir = join(PIDS_ROOT, "lectern", `${run}-${cell}`);
      try {
        mkdirSync(dir);
        writeFileSync(join(dir, "pids.max"), String(MAX_PIDS));
        writeFileSync(join(dir, "cgroup.procs"), String(pid));
        groups.set(cell, dir);
      } catch {
        // No cgroup for this cell: its process group still bounds it.
      }
    },
    sweep,
    close() {
      for (const cell of [...groups.keys()]) sweep(cell);
      if (holder) {
        holder.kill("SIGKILL");
        holders.delete(holder);
      }
    },
  };
}
