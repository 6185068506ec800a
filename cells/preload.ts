// Loaded into every TypeScript cell's process before its code (node --require): it tells the
// runner, on the side channel, which sockets listen and which errors happen, without changing
// what the program does.
import dgram from "node:dgram";
import net from "node:net";
import { openChannel, send } from "./channel.ts";

const fd = Number(process.env.LECTERN_CHANNEL);
// Children the cell starts must not write into our channel: they never see its number.
delete process.env.LECTERN_CHANNEL;
if (Number.isInteger(fd) && fd > 2) openChannel(fd);

// As on a terminal, a write is done when write() returns, so nothing printed before
// process.exit() is lost (on Linux, Node leaves pipes non-blocking and drops what is queued).
for (const stream of [process.stdout, process.stderr]) {
  (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle?.setBlocking?.(true);
}

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/** Wraps an emitter class's emit so that we see its events before its listeners do. */
function observe(proto: { emit: Emit }, see: (target: unknown, event: string | symbol, args: unknown[]) => void): void {
  const original = proto.emit;
  proto.emit = function (this: unknown, event: string | symbol, ...args: unknown[]) {
    try {
      see(this, event, args);
    } catch {
      // Observation must never break the program.
    }
    return original.call(this, event, ...args);
  };
}

function errorCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : null;
}

observe(net.Server.prototype as unknown as { emit: Emit }, (server, event, args) => {
  if (event === "listening") {
    const addr = (server as net.Server).address();
    if (addr && typeof addr === "object") send({ type: "listen", proto: "tcp", address: addr.address, port: addr.port });
  } else if (event === "error") {
    send({ type: "error", proto: "tcp", code: errorCode(args[0]) });
  }
});

observe(net.Socket.prototype as unknown as { emit: Emit }, (_socket, event, args) => {
  if (event === "error") send({ type: "error", proto: "tcp", code: errorCode(args[0]) });
});

observe(dgram.Socket.prototype as unknown as { emit: Emit }, (socket, event, args) => {
  if (event === "listening") {
    const addr = (socket as dgram.Socket).address();
    send({ type: "listen", proto: "udp", address: addr.address, port: addr.port });
  } else if (event === "error") {
    send({ type: "error", proto: "udp", code: errorCode(args[0]) });
  }
});

process.on("uncaughtExceptionMonitor", (err) => {
  send({ type: "uncaught", code: errorCode(err), message: String((err as Error)?.message ?? err) });
});
