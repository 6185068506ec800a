// A cell's cgroups (v1), made and emptied from outside the cell: a pids group caps its forks and
// finds every process it started, even one that left its process group; a memory group caps its
// memory and tells afterwards whether the kernel's OOM killer took it. Groups left by a Lectern
// that was killed are emptied and removed by the next one (findControllers).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const MAX_PIDS = 256;
export const MEMORY_MOUNT = "/sys/fs/cgroup/memory";
export const MEMORY_LIMIT_MIB = 512;

/** A cgroup v1 hierarchy we may make groups in: where, and how to set one up for a cell. */
export interface Controller {
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

const read = (file: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
};

/**
 * How many processes the OOM killer has killed in the memory group Lectern runs in and those above
 * it; `root` is where Lectern makes its cells' memory groups, inside its own (findControllers).
 */
export function outerKills(root: string | undefined): number {
  let kills = 0;
  for (let dir = root && dirname(root); dir && dir.startsWith(MEMORY_MOUNT); dir = dir === MEMORY_MOUNT ? "" : dirname(dir)) {
    kills += Number(/^oom_kill (\d+)/m.exec(read(join(dir, "memory.oom_control")))?.[1] ?? 0);
  }
  return kills;
}

/** A cell's group in each hierarchy, made and set up; none where one cannot be made here. */
export function makeGroups(hierarchies: Controller[], name: string): string[] {
  const dirs: string[] = [];
  for (const { root, setup } of hierarchies) {
    const dir = join(root, name);
    try {
      mkdirSync(dir);
      setup(dir);
      dirs.push(dir);
    } catch {
      // No group here for this cell: its process group and timeout still bound it.
    }
  }
  return dirs;
}

/** Empties and removes a cell's groups (`groups`: each cell's); one not yet empty is kept to try again. */
export function sweepGroups(groups: Map<string, string[]>, cell: string): void {
  const left = (groups.get(cell) ?? []).filter((dir) => !empty(dir));
  if (left.length > 0) groups.set(cell, left);
  else groups.delete(cell);
}

/**
 * Whether the cell whose memory group is `dir` ran out of memory: killed by the kernel's OOM
 * killer, or at least pushed against its limit (failcnt; the caller asks only about a cell that
 * died as programs die at the limit, verdict.ts), or the limit of a group Lectern itself runs in
 * (a container's) came first: more kills there than `outerAtStart`.
 */
export function ranOutOfMemory(dir: string, root: string, outerAtStart: number): boolean {
  const own = read(join(dir, "memory.oom_control"));
  if (/^oom_kill [1-9]/m.test(own) || Number(read(join(dir, "memory.failcnt"))) > 0) return true;
  return outerKills(root) > outerAtStart;
}

/** `sh -c JOIN sh DIR... -- COMMAND ARGS...`: writes its pid into each group, then becomes the command. */
export const JOIN = `p=$$; while [ "$1" != -- ]; do echo "$p" > "$1/cgroup.procs" 2>/dev/null; shift; done; shift; exec "$@"`;

let controllers: Controller[] | null = null;

/**
 * The hierarchies this process may use, found once. Groups left by a Lectern that was killed
 * (SIGKILL, out of memory) are emptied and removed, so its cells do not run on forever.
 */
export function findControllers(): Controller[] {
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
