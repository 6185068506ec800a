// The one way Lectern reads a page's bytes: regular files only, up to a size cap. A FIFO would
// block a read forever, /dev/zero would fill memory, a link to itself never resolves.
import { constants, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";
import { LecternError } from "../errors.ts";

/** A page larger than this is not a lecture page (the lecture is 12 KiB). */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;

const KINDS: [string, (s: Stats) => boolean][] = [
  ["a named pipe (FIFO)", (s) => s.isFIFO()],
  ["a device", (s) => s.isCharacterDevice() || s.isBlockDevice()],
  ["a socket", (s) => s.isSocket()],
  ["a folder", (s) => s.isDirectory()],
  ["not a regular file", () => true],
];

function kindOf(s: Stats): string {
  return KINDS.find(([, is]) => is(s))![0];
}

/** Why Lectern will not read this page, as a phrase (null: it will), from what stat says. */
export async function unreadable(path: string): Promise<string | null> {
  try {
    return problem(await stat(path));
  } catch (err) {
    return describe(err);
  }
}

function problem(s: Stats): string | null {
  if (!s.isFile()) return `${kindOf(s)}; Lectern reads regular files only`;
  if (s.size > MAX_PAGE_BYTES) return `${s.size} bytes; a page may have at most ${MAX_PAGE_BYTES}`;
  return null;
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ELOOP") return "a symbolic link that leads back to itself";
  if (code === "ENOENT") return "no such page (or a symbolic link to nothing)";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return `cannot be read (${(err as Error).message})`;
}

/**
 * A page's bytes. Opened without blocking (a FIFO put in its place after the check must not
 * hang the build) and checked on the open file, so what is read is what was checked; never more
 * than the cap, should the file grow meanwhile.
 */
export async function readPageBytes(path: string): Promise<Buffer> {
  let file;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EISDIR") throw new LecternError("E_NO_FILE", "is a folder, not a page", { file: path }, { cause: err });
    throw new LecternError("E_NO_FILE", describe(err), { file: path }, { cause: err });
  }
  try {
    const wrong = problem(await file.stat());
    if (wrong) throw new LecternError("E_NO_FILE", wrong, { file: path });
    const buffer = Buffer.alloc(MAX_PAGE_BYTES + 1);
    let size = 0;
    for (let n = -1; n !== 0 && size < buffer.length; size += n) n = (await file.read(buffer, size, buffer.length - size, size)).bytesRead;
    if (size > MAX_PAGE_BYTES) throw new LecternError("E_NO_FILE", `grew past ${MAX_PAGE_BYTES} bytes while it was read`, { file: path });
    return buffer.subarray(0, size);
  } finally {
    await file.close();
  }
}
