// The side channel from a cell's process to the runner: JSON lines on a pipe of their own,
// so nothing Lectern needs to know is ever mixed into what the cell prints.
import { writeSync } from "node:fs";

const KEY = Symbol.for("lectern.channel");

type Holder = { [KEY]?: number | null };

/** Called once by the preload; later calls from the runtime find the same descriptor. */
export function openChannel(fd: number): void {
  (globalThis as Holder)[KEY] = fd;
}

export function underLectern(): boolean {
  return typeof (globalThis as Holder)[KEY] === "number";
}

/** Writes one message synchronously, so it is on the pipe before the code after it runs. */
export function send(message: object): void {
  const fd = (globalThis as Holder)[KEY];
  if (typeof fd !== "number") return;
  const buf = Buffer.from(JSON.stringify(message) + "\n");
  let offset = 0;
  while (offset < buf.length) {
    try {
      offset += writeSync(fd, buf, offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EAGAIN") continue;
      // The runner is gone (EPIPE, EBADF): the program goes on as it would without Lectern.
      (globalThis as Holder)[KEY] = null;
      return;
    }
  }
}
