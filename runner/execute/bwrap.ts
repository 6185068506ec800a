// A cell's confinement with bubblewrap (`bwrap`, Debian's `bubblewrap`): whether this machine
// can use it, found once per process, and the command line that confines one cell: its own
// user, PID, mount, IPC and UTS namespaces, no capabilities, the system and the page's folder
// read-only, a fresh /tmp as its home, and nothing else of the disk unless --allow-read/-write.
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, lstatSync, readlinkSync } from "node:fs";
import { delimiter, dirname, join, relative, sep } from "node:path";
import { ROOT_DIR } from "../paths.ts";

/** What a run without bubblewrap lacks, in the words of the once-per-run warning. */
export const MISSING_PROTECTIONS =
  "cells can read the environment of other processes, write the cache, the site and any file you can, and leave the network namespace and cgroups";

// The namespaces and limits every confined cell gets (see README, "Safe defaults").
const ISOLATION = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL", "--die-with-parent"];

/**
 * Where the scratch folder is inside a sandbox: the cells' $HOME and $TMPDIR. One fresh folder
 * per page run, shared by its cells (processes of one lecture may meet through files), removed
 * when the page's run ends.
 */
export const SCRATCH = "/tmp";

// Root-only secrets that a cell running as root (with no capabilities, but still the owner)
// could otherwise read from the read-only /etc.
const ETC_SECRETS = ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers"];
const ETC_SECRET_DIRS = ["/etc/ssh", "/etc/sudoers.d", "/etc/ssl/private"];

export interface Probe {
  /** The bwrap binary, or null when cells run unconfined. */
  bwrap: string | null;
  /** Why not, in a few words: "bwrap not found", "the kernel refused a user namespace: ...". */
  why: string | null;
}

function onPath(name: string, path: string | undefined): string | null {
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return null;
}

let probed: Promise<Probe> | null = null;

/**
 * Finds bwrap and tries it once (a kernel may forbid user namespaces). LECTERN_SANDBOX=off
 * runs cells unconfined on purpose: the fallback, for machines and tests that want it.
 */
export function probeSandbox(env: NodeJS.ProcessEnv = process.env): Promise<Probe> {
  probed ??= (async (): Promise<Probe> => {
    if (env.LECTERN_SANDBOX === "off") return { bwrap: null, why: "LECTERN_SANDBOX=off" };
    const bwrap = onPath("bwrap", env.PATH);
    if (!bwrap) return { bwrap: null, why: "bwrap (Debian's bubblewrap) was not found on PATH" };
    // As a cell is started (sandbox.ts): env(1) makes bwrap ignore SIGTERM.
    const args = ["--ignore-signal=TERM", bwrap, ...ISOLATION, ...systemMounts(), "--", "/bin/true"];
    const result = await new Promise<string | null>((done) => {
      const child = spawn("env", args, { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr!.on("data", (d) => (err += d));
      child.on("error", (e) => done(e.message));
      child.on("close", (code) => done(code === 0 ? null : err.trim() || `exit status ${code}`));
    });
    return result === null ? { bwrap, why: null } : { bwrap: null, why: `bwrap cannot make a sandbox here: ${result}` };
  })();
  return probed;
}

/** The system, read-only: /usr and /etc, with /bin, /lib... as the symlinks or folders they are. */
function systemMounts(): string[] {
  const out = ["--ro-bind", "/usr", "/usr"];
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    try {
      const st = lstatSync(top);
      if (st.isSymbolicLink()) out.push("--symlink", readlinkSync(top), top);
      else if (st.isDirectory()) out.push("--ro-bind", top, top);
    } catch {
      // Not on this system.
    }
  }
  out.push("--ro-bind", "/etc", "/etc");
  for (const f of ETC_SECRETS) if (existsSync(f)) out.push("--ro-bind", "/dev/null", f);
  for (const d of ETC_SECRET_DIRS) if (existsSync(d)) out.push("--tmpfs", d);
  out.push("--proc", "/proc", "--dev", "/dev");
  return out;
}

let systemArgs: string[] | null = null;

export interface Confine {
  /** The page's folder: read-only, and the cell's working directory. */
  pageDir: string;
  /** Files the cell's process must read (its compiled file, the preload): read-only, one by one. */
  files: string[];
  /** The page run's scratch folder on the host, the cells' /tmp (their $HOME and $TMPDIR). */
  scratch: string;
  /** Folders of the page's folder that hold Lectern's own data (the cache, the site): hidden. */
  hide: string[];
  allowRead: string[];
  allowWrite: string[];
  env: Record<string, string>;
}

const inside = (parent: string, child: string) => {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && rel !== "..");
};

/** Every node_modules from the page's folder up: where node finds the packages a cell imports. */
function packageDirs(from: string): string[] {
  const out: string[] = [];
  for (let dir = from; ; dir = dirname(dir)) {
    const nm = join(dir, "node_modules");
    if (existsSync(nm)) out.push(nm);
    if (dirname(dir) === dir) return out;
  }
}

/** bwrap's arguments for one cell, up to and including the `--` before its command. */
export function bwrapArgs(c: Confine): string[] {
  systemArgs ??= [...ISOLATION, ...systemMounts()];
  const args = [...systemArgs, "--bind", c.scratch, SCRATCH];
  const node = dirname(dirname(process.execPath));
  if (!inside("/usr", process.execPath)) args.push("--ro-bind", node, node);
  // Lectern's own packages (zx for shell cells), then the page's.
  for (const nm of new Set([join(ROOT_DIR, "node_modules"), ...packageDirs(c.pageDir)])) args.push("--ro-bind", nm, nm);
  args.push("--ro-bind", c.pageDir, c.pageDir);
  for (const p of c.allowRead) args.push("--ro-bind", p, p);
  for (const p of c.allowWrite) args.push("--bind", p, p);
  // Lectern's data stays hidden inside what the page or a flag opens, unless a flag names it.
  const allowed = [...c.allowRead, ...c.allowWrite];
  for (const h of c.hide) {
    const opened = inside(c.pageDir, h) || allowed.some((a) => inside(a, h));
    if (opened && existsSync(h) && !allowed.some((a) => inside(h, a))) args.push("--tmpfs", h);
  }
  for (const f of c.files) args.push("--ro-bind", f, f);
  args.push("--chdir", c.pageDir, "--clearenv");
  for (const [k, v] of Object.entries({ ...c.env, HOME: SCRATCH, TMPDIR: SCRATCH })) args.push("--setenv", k, v);
  args.push("--");
  return args;
}
