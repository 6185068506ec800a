// What the preload sees of a cell's sockets, by wrapping the emit and write methods of Node's
// socket classes (no listener is added, so the program behaves as it would without us):
// readiness (listening), error codes, and the trace of every datagram and segment.
import dgram from "node:dgram";
import net from "node:net";
import readline from "node:readline";
import vm from "node:vm";
import { send } from "./channel.ts";
import { echo, echoChunk, isStdin } from "./stdin.ts";

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;
type Kind = "bind" | "listen" | "connect" | "accept" | "send" | "recv" | "end" | "close" | "error";

interface Event {
  proto: "udp" | "tcp";
  kind: Kind;
  local: string | null;
  remote: string | null;
  bytes?: number;
  preview?: string;
  code?: string;
}

const PREVIEW = 40;

/**
 * The first bytes of a payload, as they are (one char per byte): the runner turns them into a
 * readable preview, in its own process, so the cell spends next to nothing on it.
 */
const head = (data: Buffer) => data.toString("latin1", 0, Math.min(PREVIEW, data.length));

const at = (address: string | undefined, port: number | undefined) =>
  address === undefined || port === undefined ? null : `${address.includes(":") ? `[${address}]` : address}:${port}`;

// Events are sent in batches: one write per turn of the event loop, and whatever is left at exit.
let batch: unknown[][] = [];
let scheduled = false;
function flush(): void {
  scheduled = false;
  if (batch.length === 0) return;
  send({ type: "trace", events: batch });
  batch = [];
}
let tracing = true;
/** Off for runs that do not want the trace (the readiness and error reports stay). */
export function setTracing(on: boolean): void {
  tracing = on;
}
// On the wire an event is a tuple, [t, proto, kind, local, remote, bytes, preview, code]: half
// the bytes of the object, which counts at ten thousand datagrams.
function record(event: Event): void {
  if (!tracing) return;
  // [t, proto, kind, local, remote, bytes, head of the payload (latin1), code]
  batch.push([performance.timeOrigin + performance.now(), event.proto, event.kind, event.local, event.remote, event.bytes ?? null, event.preview ?? null, event.code ?? null]);
  if (batch.length >= 512) flush();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(flush).unref();
  }
}
process.on("exit", flush);

/**
 * Sees an emitter class's events before its listeners do. `see` may return a function to run
 * after the listeners: "listening" is reported then, so that what a server prints in its
 * listen callback is printed before anyone is told it is ready.
 */
function observe<T>(proto: T, see: (target: T, event: string | symbol, args: unknown[]) => void | (() => void)): void {
  const p = proto as unknown as { emit: Emit };
  p.emit = aroundEmit(p.emit, see) as Emit;
}

// The wrappers are compiled under the name "lectern:preload": a stack trace through them (an
// error thrown by a listener, say) reads `at Socket.emit (lectern:preload:1:…)`, not a path
// into Lectern's cache. Observation never breaks the program: its errors are swallowed.
const aroundEmit = vm.runInThisContext(
  "(function (original, see) { return function emit(event, ...args) { let after; try { after = see(this, event, args); } catch {} const handled = original.call(this, event, ...args); if (after) after(); return handled; }; })",
  { filename: "lectern:preload" },
) as (original: Emit, see: (target: never, event: string | symbol, args: unknown[]) => void | (() => void)) => Emit;
const before = vm.runInThisContext(
  "(function (original, see) { return function (...args) { try { see(this, args); } catch {} return original.apply(this, args); }; })",
  { filename: "lectern:preload" },
) as <F extends (...args: never[]) => unknown>(original: F, see: (target: never, args: unknown[]) => void) => F;

function toBuffer(chunk: unknown, encoding?: BufferEncoding): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : typeof chunk === "string" ? Buffer.from(chunk, encoding) : Buffer.from(chunk as Uint8Array);
}

function errorCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : null;
}

function errorEvent(proto: "udp" | "tcp", err: unknown, local: string | null): void {
  const code = errorCode(err);
  const e = err as { address?: string; port?: number };
  record({ proto, kind: "error", local, remote: at(e.address, e.port), ...(code ? { code } : {}) });
}

// ---- TCP ----
// process.stdin/stdout and other pipes are net.Sockets too; only TCP sockets are traced.
function isTcp(s: net.Socket): boolean {
  const handle = (s as unknown as { _handle?: { constructor?: { name?: string } } | null })._handle;
  return handle ? handle.constructor?.name === "TCP" : s.remotePort !== undefined || seen.has(s);
}
// A closed socket forgets its addresses; the last ones seen name it in its close event.
const seen = new WeakMap<net.Socket, { local: string | null; remote: string | null }>();
const tcpLocal = (s: net.Socket) => at(s.localAddress, s.localPort) ?? seen.get(s)?.local ?? null;
const tcpRemote = (s: net.Socket) => at(s.remoteAddress, s.remotePort) ?? seen.get(s)?.remote ?? null;
const remember = (s: net.Socket) => seen.set(s, { local: tcpLocal(s), remote: tcpRemote(s) });

observe(net.Server.prototype, (server, event, args) => {
  const addr = server.address();
  const local = addr && typeof addr === "object" ? at(addr.address, addr.port) : null;
  if (event === "listening" && addr && typeof addr === "object") {
    record({ proto: "tcp", kind: "listen", local, remote: null });
    return () => send({ type: "listen", proto: "tcp", address: addr.address, port: addr.port });
  } else if (event === "connection") {
    const socket = args[0] as net.Socket;
    remember(socket);
    record({ proto: "tcp", kind: "accept", local: tcpLocal(socket), remote: tcpRemote(socket) });
  } else if (event === "error") {
    send({ type: "error", proto: "tcp", code: errorCode(args[0]) });
    errorEvent("tcp", args[0], local);
  }
});

// readline.Interface and readline/promises' Interface share this prototype.
observe(Object.getPrototypeOf(readline.Interface.prototype) as { input?: unknown }, (rl, event, args) => {
  if (event === "line" && isStdin(rl.input)) echo(`${String(args[0])}\n`);
});

observe(net.Socket.prototype, (socket, event, args) => {
  if (event === "data" && isStdin(socket)) {
    echoChunk(socket, args[0]);
    return;
  }
  if (event === "error") {
    const e = args[0] as { address?: string };
    send({ type: "error", proto: "tcp", code: errorCode(args[0]) });
    if (isTcp(socket) || e?.address !== undefined) errorEvent("tcp", args[0], tcpLocal(socket));
    return;
  }
  if (!isTcp(socket)) return;
  if (event === "connect") {
    remember(socket);
    record({ proto: "tcp", kind: "connect", local: tcpLocal(socket), remote: tcpRemote(socket) });
  } else if (event === "data") {
    const data = toBuffer(args[0]);
    record({ proto: "tcp", kind: "recv", local: tcpLocal(socket), remote: tcpRemote(socket), bytes: data.length, preview: head(data) });
  } else if (event === "finish") {
    record({ proto: "tcp", kind: "end", local: tcpLocal(socket), remote: tcpRemote(socket) });
  } else if (event === "close") {
    record({ proto: "tcp", kind: "close", local: tcpLocal(socket), remote: tcpRemote(socket) });
  }
});

// A segment is recorded when the stream hands it to the socket, which is after connect.
const socketProto = net.Socket.prototype as unknown as {
  _write: (chunk: unknown, encoding: BufferEncoding, cb: unknown) => void;
  _writev: (chunks: { chunk: unknown; encoding: BufferEncoding }[], cb: unknown) => void;
};
const sent = (socket: net.Socket, data: Buffer) => {
  if (!isTcp(socket) && !socket.connecting) return;
  const note = () => record({ proto: "tcp", kind: "send", local: tcpLocal(socket), remote: tcpRemote(socket), bytes: data.length, preview: head(data) });
  if (socket.connecting) socket.once("connect", note);
  else note();
};
socketProto._write = before(socketProto._write, (socket: net.Socket, [chunk, encoding]) => sent(socket, toBuffer(chunk, encoding as BufferEncoding)));
socketProto._writev = before(socketProto._writev, (socket: net.Socket, [chunks]) =>
  sent(socket, Buffer.concat((chunks as { chunk: unknown; encoding: BufferEncoding }[]).map((c) => toBuffer(c.chunk, c.encoding)))),
);

// ---- UDP ----
// A socket's own address, asked of the kernel once (when it is bound), not for every datagram.
const udpBound = new WeakMap<dgram.Socket, string>();
const udpLocal = (s: dgram.Socket) => {
  const known = udpBound.get(s);
  if (known !== undefined) return known;
  try {
    const a = s.address();
    const local = at(a.address, a.port)!;
    udpBound.set(s, local);
    return local;
  } catch {
    return null; // not bound yet
  }
};

observe(dgram.Socket.prototype, (socket, event, args) => {
  if (event === "listening") {
    const a = socket.address();
    record({ proto: "udp", kind: "bind", local: at(a.address, a.port), remote: null });
    return () => send({ type: "listen", proto: "udp", address: a.address, port: a.port });
  } else if (event === "message") {
    const [msg, rinfo] = args as unknown as [Buffer, dgram.RemoteInfo];
    record({ proto: "udp", kind: "recv", local: udpLocal(socket), remote: at(rinfo.address, rinfo.port), bytes: msg.length, preview: head(msg) });
  } else if (event === "connect") {
    let remote: string | null = null;
    try {
      const r = socket.remoteAddress();
      remote = at(r.address, r.port);
    } catch {
      // Connected and disconnected again already.
    }
    record({ proto: "udp", kind: "connect", local: udpLocal(socket), remote });
  } else if (event === "close") {
    record({ proto: "udp", kind: "close", local: udpBound.get(socket) ?? null, remote: null });
    udpBound.delete(socket);
  } else if (event === "error") {
    send({ type: "error", proto: "udp", code: errorCode(args[0]) });
    errorEvent("udp", args[0], udpLocal(socket));
  }
});

// On a socket that is not bound yet, dgram binds it and calls send again once bound: that
// second call is the one recorded.
dgram.Socket.prototype.send = before(dgram.Socket.prototype.send, (socket: dgram.Socket, args) => {
  if (udpLocal(socket) !== null) note(socket, args);
});

/** Records one datagram: send(msg, [offset, length,] [port, [address,]] [callback]). */
function note(socket: dgram.Socket, args: unknown[]): void {
  let data = Array.isArray(args[0]) ? Buffer.concat((args[0] as unknown[]).map((c) => toBuffer(c))) : toBuffer(args[0]);
  let rest = args.slice(1);
  if (typeof rest[0] === "number" && typeof rest[1] === "number" && (typeof rest[2] === "number" || rest.length >= 3)) {
    data = data.subarray(rest[0], rest[0] + rest[1]);
    rest = rest.slice(2);
  }
  const port = typeof rest[0] === "number" ? rest[0] : undefined;
  const address = typeof rest[1] === "string" ? rest[1] : port !== undefined ? "127.0.0.1" : undefined;
  let remote = at(address, port);
  if (remote === null) {
    try {
      const r = socket.remoteAddress();
      remote = at(r.address, r.port);
    } catch {
      // Not connected: the send will fail and report it.
    }
  }
  record({ proto: "udp", kind: "send", local: udpLocal(socket), remote, bytes: data.length, preview: head(data) });
}
