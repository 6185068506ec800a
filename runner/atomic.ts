// Every file Lectern writes goes through here: a temporary file beside the target, then a rename.
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Writes to a temp file beside the target, then renames, so a reader never sees half a file. */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    // A failed write (ENOSPC) names no file: the one it was for is what the user must hear.
    if (err instanceof Error) Object.assign(err, { target: path });
    throw err;
  }
}
