// A file Lectern could not write (a read-only cache or --out, a full disk) -> one line saying
// what and where, for the command line to print with exit status 1 instead of a stack trace.
import { accessSync, constants, existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

const WHY: Record<string, string> = {
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is used up",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "part of the path is a file, not a folder",
  EEXIST: "a file is in the way of a folder",
  EISDIR: "a folder is in the way",
  ENOENT: "its folder is missing",
  EFBIG: "the file is too large for the file system",
  EIO: "the device reported an input/output error",
};

// Only a write can fail this way, whatever call it came from.
const WRITE_ONLY = new Set(["EROFS", "ENOSPC", "EDQUOT", "EFBIG"]);
// Calls that only write; an `open` or a `stat` that failed may have been a read.
const WRITES = new Set(["mkdir", "rename", "write", "copyfile", "ftruncate", "fsync", "symlink", "link"]);

/** The failed write in words (`cannot write site/index.html: the file system is read-only`), or null for any other error. */
export function describeWriteFailure(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException & { target?: string };
  if (!(err instanceof Error) || typeof e.code !== "string" || !Object.hasOwn(WHY, e.code)) return null;
  // A folder that could not be made is named itself; any other failure by the file it was for.
  const target = e.syscall === "mkdir" ? (e.path ?? e.target) : (e.target ?? e.path);
  if (typeof target !== "string") return null;
  // writeAtomic names the file it was writing (target); otherwise the call must be a write.
  if (e.target === undefined && !WRITE_ONLY.has(e.code) && !WRITES.has(e.syscall ?? "")) return null;
  const what = e.syscall === "mkdir" ? "cannot create the folder" : "cannot write";
  const code = e.code === "ENOENT" && e.syscall === "mkdir" ? whyNoFolder(target) : e.code;
  return `${what} ${withoutTemp(target)}: ${WHY[code] ?? WHY[e.code]}`;
}

/**
 * A recursive mkdir on a read-only file system says ENOENT; the folder that exists above it
 * says why it could not be made (access() reports EROFS even to root).
 */
function whyNoFolder(path: string): string {
  let dir = resolve(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
    return "ENOENT";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? "ENOENT";
  }
}

/** A temporary file of atomic.ts, named as the file it was to become. */
function withoutTemp(path: string): string {
  const m = /^\.(.+)\.\d+\.[0-9a-f]{12}\.tmp$/.exec(basename(path));
  return m ? join(dirname(path), m[1]!) : path;
}
