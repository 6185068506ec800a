// Lectern's temporary folders (a page run's scratch folder, a capture started before its page is
// known), named after the process that made them: one killed with SIGKILL never removes its own,
// so the next Lectern removes those whose process is gone.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether a process is alive (one of another user's, which we may not signal, counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const swept = new Set<string>();

/** A fresh folder `PREFIX-PID-XXXXXX` in the temporary folder, after removing those of dead Lecterns. */
export function ownTempDir(prefix: string): string {
  if (!swept.has(prefix)) {
    swept.add(prefix);
    let names: string[] = [];
    try {
      names = readdirSync(tmpdir());
    } catch {
      // No temporary folder to look in: mkdtemp below says so.
    }
    for (const name of names) {
      const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length + 1))?.[1]);
      if (name.startsWith(`${prefix}-`) && pid > 0 && pid !== process.pid && !alive(pid)) {
        try {
          rmSync(join(tmpdir(), name), { recursive: true, force: true });
        } catch {
          // Another user's (a run as nobody beside one as root): theirs to remove.
        }
      }
    }
  }
  return mkdtempSync(join(tmpdir(), `${prefix}-${process.pid}-`));
}
