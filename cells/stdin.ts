// Scripted input echoed into the transcript where a program reads it, as a terminal would show
// it: each line a readline interface on stdin hands out, or each chunk a program takes from
// process.stdin itself. (`input()` from "lectern" echoes its own lines.) observe.ts calls these.
import type net from "node:net";
import { send } from "./channel.ts";

const OWN_ECHO = Symbol.for("lectern.input");

export const isStdin = (stream: unknown) => (stream as { fd?: number } | null)?.fd === 0;

/** One echo: the text, placed after what the program had written to stdout and stderr by now. */
export function echo(text: string): void {
  send({ type: "input", text, stdout: process.stdout.bytesWritten ?? 0, stderr: process.stderr.bytesWritten ?? 0 });
}

/** A chunk read from stdin, echoed unless input() or a readline interface echoes it line by line. */
export function echoChunk(socket: net.Socket, data: unknown): void {
  if ((globalThis as Record<symbol, unknown>)[OWN_ECHO]) return;
  if (socket.listeners("data").some((l) => l.name === "ondata")) return; // readline's listener
  echo(typeof data === "string" ? data : Buffer.from(data as Uint8Array).toString("utf8"));
}
