// The side channel from a cell's process to the runner: JSON lines on a pipe of their own,
// so nothing Lectern needs to know is ever mixed into what the cell prints.
import { writeSync } from "node:fs";
import net from "node:net";

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

/**
 * If Lectern itself dies (SIGKILL, out of memory), the channel's far end closes: the cell and
 * whatever it started go with it, instead of running on with nobody to stop them. Lectern
 * writes on the channel only to ask for `onAsk` (the preload's: write out the trace) before it
 * stops the cell; the answer goes back on the channel.
 */
export function dieWithLectern(fd: number, onAsk?: () => void): void {
  try {
    const lifeline = new net.Socket({ fd, readable: true, writable: false });
    lifeline.unref();
    lifeline.on("error", () => {});
    if (onAsk) lifeline.on("data", onAsk);
    else lifeline.resume();
    lifeline.on("end", () => {
      try {
        process.kill(-process.pid, "SIGKILL");
      } catch {
        process.kill(process.pid, "SIGKILL");
      }
    });
  } catch {
    // Not a pipe (a file, say): then there is no far end to lose.
  }
}
