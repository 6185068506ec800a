// The module cells import as "lectern": named ports and keyboard input, inside Lectern or out.
import { send, underLectern } from "./channel.ts";

function envName(name: string): string {
  return "LECTERN_PORT_" + name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/**
 * The page's port called `name`: one number shared by every cell that names it.
 * Outside Lectern it reads LECTERN_PORT_<NAME>, or returns `fallback`.
 */
export function port(name: string, fallback?: number): number {
  const raw = process.env[envName(name)];
  if (raw !== undefined && raw !== "") {
    const n = Number(raw);
    if (Number.isInteger(n) && n > 0 && n < 65536) return n;
    throw new RangeError(`${envName(name)}=${raw} is not a port number (1-65535)`);
  }
  if (fallback !== undefined) return fallback;
  throw new Error(`port("${name}") has no number: run this under Lectern, set ${envName(name)}, or pass a fallback: port("${name}", 12000)`);
}

/**
 * The address of the page's network host called `name` (its ```network block). Outside Lectern
 * it reads LECTERN_HOST_<NAME>, or returns `fallback`.
 */
export function host(name: string, fallback?: string): string {
  const variable = "LECTERN_HOST_" + name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
  const raw = process.env[variable];
  if (raw !== undefined && raw !== "") return raw;
  if (fallback !== undefined) return fallback;
  throw new Error(`host("${name}") has no address: run this under Lectern on a page with that host, set ${variable}, or pass a fallback: host("${name}", "127.0.0.1")`);
}

// Lines typed (or scripted) ahead of the program's reads wait here, as in a terminal's buffer.
const lines: string[] = [];
const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
let pending = "";
let ended = false;
let listening = false;

function deliver(): void {
  while (waiting.length > 0 && (lines.length > 0 || ended)) {
    const next = waiting.shift()!;
    const line = lines.shift();
    if (line === undefined) {
      const err = new Error("EOF when reading a line") as NodeJS.ErrnoException;
      err.code = "EOF";
      next.reject(err);
    } else {
      next.resolve(line);
    }
  }
  // Reading stops when nobody waits, so a program that is done with input can exit.
  if (waiting.length === 0 && listening) process.stdin.pause();
}

function listen(): void {
  if (listening) {
    process.stdin.resume();
    return;
  }
  listening = true;
  // input() echoes the lines it hands out itself: the preload must not echo the raw chunks too.
  (globalThis as Record<symbol, unknown>)[Symbol.for("lectern.input")] = true;
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (data: string) => {
    pending += data;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      lines.push(pending.slice(0, nl).replace(/\r$/, ""));
      pending = pending.slice(nl + 1);
    }
    deliver();
  });
  process.stdin.on("end", () => {
    if (pending !== "") lines.push(pending);
    pending = "";
    ended = true;
    deliver();
  });
}

/**
 * Like Python's input(): writes the prompt, then resolves with one line (without its newline).
 * Rejects with code "EOF" when input has ended. Under Lectern the line is echoed into the
 * transcript where it was read, as a terminal would show it.
 */
export function input(prompt = ""): Promise<string> {
  if (prompt !== "") process.stdout.write(prompt);
  return new Promise<string>((resolve, reject) => {
    waiting.push({
      resolve: (line) => {
        if (underLectern()) {
          // The byte counts let the runner put the echo exactly after the prompt.
          send({
            type: "input",
            text: line + "\n",
            stdout: process.stdout.bytesWritten ?? 0,
            stderr: process.stderr.bytesWritten ?? 0,
          });
        }
        resolve(line);
      },
      reject,
    });
    listen();
    deliver();
  });
}
