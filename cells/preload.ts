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

// The network guard, where the cells have no namespace of their own: hosts other than loopback
// and the ones --allow-net names are refused. A guard against mistakes, not a sandbox: a child
// process or native code is not held back by it.
const allowed = process.env.LECTERN_ALLOW_NET?.split(",") ?? null;
delete process.env.LECTERN_ALLOW_NET;

function refusal(host: string, port: unknown): Error | null {
  if (allowed === null) return null;
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1") return null;
  if (allowed.includes(h) || allowed.includes(`${h}:${String(port)}`)) return null;
  const err = new Error(`connect EACCES ${host}:${String(port)}: Lectern lets cells reach only loopback; run with --allow-net=${host} to allow it`) as NodeJS.ErrnoException;
  err.code = "EACCES";
  err.syscall = "connect";
  return err;
}

if (allowed !== null) {
  const connect = net.Socket.prototype.connect as (...args: unknown[]) => net.Socket;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    const opts = (Array.isArray(first) ? first[0] : first) as { host?: string; port?: unknown; path?: string } | number | string;
    const host = typeof opts === "object" && opts !== null ? (opts.path ? null : (opts.host ?? "localhost")) : typeof opts === "number" || /^\d+$/.test(String(opts)) ? String(typeof args[1] === "string" ? args[1] : "localhost") : null;
    const port = typeof opts === "object" && opts !== null ? opts.port : opts;
    const err = host === null ? null : refusal(host, port);
    if (err) {
      process.nextTick(() => this.destroy(err));
      return this;
    }
    return connect.apply(this, args);
  } as typeof net.Socket.prototype.connect;

  const sendTo = dgram.Socket.prototype.send as (...args: unknown[]) => void;
  dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
    // send(msg, [offset, length,] port, address, callback): the address is the string after the port.
    const address = args.find((a, i) => i > 0 && typeof a === "string" && typeof args[i - 1] === "number") as string | undefined;
    const port = args[args.indexOf(address) - 1];
    const err = address === undefined ? null : refusal(address, port);
    if (err) {
      const callback = args.find((a) => typeof a === "function") as ((e: Error) => void) | undefined;
      process.nextTick(() => (callback ? callback(err) : this.emit("error", err)));
      return;
    }
    sendTo.apply(this, args);
  } as typeof dgram.Socket.prototype.send;
}

process.on("uncaughtExceptionMonitor", (err) => {
  send({ type: "uncaught", code: errorCode(err), message: String((err as Error)?.message ?? err) });
});
