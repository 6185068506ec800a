// What the preload sees of a cell's sockets, by wrapping the emit and write methods of Node's
// socket classes (no listener is added, so the program behaves as it would without us):
// readiness (listening), error codes, and the trace of every datagram and segment.
import dgram from "node:dgram";
import net from "node:net";
import readline from "node:readline";
import vm from "node:vm";
import { send } from "./channel.ts";
import { EVENT, idOf, record, tracing } from "./record.ts";
import { echo, echoChunk, isStdin } from "./stdin.ts";

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

const at = (address: string | undefined, port: number | undefined) =>
  address === undefined || port === undefined ? null : `${address.includes(":") ? `[${address}]` : address}:${port}`;

/**
 * Sees an emitter class's events before its listeners do, with the event's first two
 * arguments. `see` may return a function to run after the listeners: "listening" is reported
 * then, so that what a server prints in its listen callback is printed before anyone is told
 * it is ready.
 */
function observe<T>(proto: T, see: (target: T, event: string | symbol, a: unknown, b: unknown) => void | (() => void)): void {
  const p = proto as unknown as { emit: Emit };
  p.emit = aroundEmit(p.emit, see) as Emit;
}

// The wrappers are compiled under the name "lectern:preload": a stack trace through them (an
// error thrown by a listener, say) reads `at Socket.emit (lectern:preload:1:…)`, not a path
// into Lectern's cache. Observation never breaks the program: its errors are swallowed. They
// pass `arguments` straight on, in strict mode, rather than spread rest parameters: they run
// for every datagram and segment.
const aroundEmit = vm.runInThisContext(
  '(function (original, see) { "use strict"; return function emit(event) { let after; try { after = see(this, event, arguments[1], arguments[2]); } catch {} const handled = original.apply(this, arguments); if (after) after(); return handled; }; })',
  { filename: "lectern:preload" },
) as (original: Emit, see: (target: never, event: string | symbol, a: unknown, b: unknown) => void | (() => void)) => Emit;

/** A method's first five arguments, and how many it was given. */
type See<T> = (target: T, count: number, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown) => void;

/** Wraps a method so that `see` runs first; the wrapper has the original's length. */
function before<T, F extends (...args: never[]) => unknown>(original: F, see: See<T>): F {
  const params = Array.from({ length: original.length }, (_, i) => `a${i}`);
  const given = Array.from({ length: 5 }, (_, i) => params[i] ?? "undefined");
  const make = vm.runInThisContext(
    `(function (original, see) { "use strict"; return function (${params.join(", ")}) { try { see(this, arguments.length, ${given.join(", ")}); } catch {} return original.apply(this, arguments); }; })`,
    { filename: "lectern:preload" },
  ) as (original: F, see: See<T>) => F;
  return make(original, see);
}

function toBuffer(chunk: unknown, encoding?: BufferEncoding): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : typeof chunk === "string" ? Buffer.from(chunk, encoding) : Buffer.from(chunk as Uint8Array);
}

function errorCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : null;
}

function errorEvent(what: number, err: unknown, local: number): void {
  const e = err as { address?: string; port?: number; syscall?: string };
  // A failed bind or listen names the cell's own address; any other error, the one it tried to reach.
  if (e.syscall === "bind" || e.syscall === "listen") record(what, idOf(at(e.address, e.port)), 0, null, idOf(errorCode(err)));
  else record(what, local, idOf(at(e.address, e.port)), null, idOf(errorCode(err)));
}

// ---- TCP ----
// process.stdin/stdout and other pipes are net.Sockets too; only TCP sockets are traced.
function isTcp(s: net.Socket): boolean {
  const handle = (s as unknown as { _handle?: { constructor?: { name?: string } } | null })._handle;
  return handle ? handle.constructor?.name === "TCP" : s.remotePort !== undefined || seen.has(s);
}
// A connection's two addresses (as trace ids), kept from when it is set up: a closed socket
// forgets them, and they name it in its close event too.
interface Ends {
  local: number;
  remote: number;
}
const seen = new WeakMap<net.Socket, Ends>();
function ends(s: net.Socket): Ends {
  const known = seen.get(s);
  if (known) return known;
  const e = { local: idOf(at(s.localAddress, s.localPort)), remote: idOf(at(s.remoteAddress, s.remotePort)) };
  if (e.local !== 0 && e.remote !== 0) seen.set(s, e);
  return e;
}

observe(net.Server.prototype, (server, event, a) => {
  const addr = server.address();
  const local = addr && typeof addr === "object" ? at(addr.address, addr.port) : null;
  if (event === "listening" && addr && typeof addr === "object") {
    record(EVENT["tcp listen"], idOf(local), 0);
    return () => send({ type: "listen", proto: "tcp", address: addr.address, port: addr.port });
  } else if (event === "connection" && isTcp(a as net.Socket)) {
    // (A server on a Unix socket or pipe accepts connections too: not network traffic.)
    const e = ends(a as net.Socket);
    record(EVENT["tcp accept"], e.local, e.remote);
  } else if (event === "error") {
    send({ type: "error", proto: "tcp", code: errorCode(a) });
    errorEvent(EVENT["tcp error"], a, idOf(local));
  }
});

// readline.Interface and readline/promises' Interface share this prototype.
observe(Object.getPrototypeOf(readline.Interface.prototype) as { input?: unknown }, (rl, event, a) => {
  if (event === "line" && isStdin(rl.input)) echo(`${String(a)}\n`);
});

observe(net.Socket.prototype, (socket, event, a) => {
  if (event === "data" && isStdin(socket)) {
    echoChunk(socket, a);
    return;
  }
  if (event === "error") {
    send({ type: "error", proto: "tcp", code: errorCode(a) });
    if (isTcp(socket) || (a as { address?: string } | null)?.address !== undefined) errorEvent(EVENT["tcp error"], a, ends(socket).local);
    return;
  }
  if (!tracing() || !isTcp(socket)) return;
  if (event === "connect") {
    // A socket may connect again after a close: its addresses are new.
    seen.delete(socket);
    const e = ends(socket);
    record(EVENT["tcp connect"], e.local, e.remote);
  } else if (event === "data") {
    // A socket with setEncoding() hands out strings: the bytes were in its encoding.
    const enc = socket.readableEncoding;
    const e = ends(socket);
    record(EVENT["tcp recv"], e.local, e.remote, enc && enc !== "utf8" ? toBuffer(a, enc) : (a as Buffer | string));
  } else if (event === "close") {
    const e = ends(socket);
    record(EVENT["tcp close"], e.local, e.remote);
  }
});

/**
 * Wraps the methods that send TCP segments, which trace-off runs leave alone (UDP sends are
 * wrapped per socket, below). A segment is recorded when the stream hands it to the socket,
 * which is after connect.
 */
export function traceSends(): void {
  const socketProto = net.Socket.prototype as unknown as {
    _write: (chunk: unknown, encoding: BufferEncoding, cb: unknown) => void;
    _writev: (chunks: { chunk: unknown; encoding: BufferEncoding }[], cb: unknown) => void;
    _final: (cb: unknown) => void;
  };
  socketProto._write = before(socketProto._write, (socket: net.Socket, _n, chunk, encoding) =>
    sent(socket, typeof chunk === "string" && (encoding === "utf8" || encoding === "utf-8") ? chunk : toBuffer(chunk, encoding as BufferEncoding)),
  );
  socketProto._writev = before(socketProto._writev, (socket: net.Socket, _n, chunks) =>
    sent(socket, Buffer.concat((chunks as { chunk: unknown; encoding: BufferEncoding }[]).map((c) => toBuffer(c.chunk, c.encoding)))),
  );
  // The FIN goes out here, when the stream has written everything after end() (a socket still
  // connecting calls it again once connected). "finish" would come only after the kernel took
  // it, by when the other end may have answered with its own FIN and closed.
  socketProto._final = before(socketProto._final, (socket: net.Socket) => {
    if (socket.pending || !(socket as unknown as { _handle?: unknown })._handle || !isTcp(socket)) return;
    const e = ends(socket);
    record(EVENT["tcp end"], e.local, e.remote);
  });
}

function sent(socket: net.Socket, data: Buffer | string): void {
  if (!isTcp(socket) && !socket.connecting) return;
  const note = () => {
    // A socket still connecting when written to may turn out to be a Unix socket.
    if (!isTcp(socket)) return;
    const e = ends(socket);
    record(EVENT["tcp send"], e.local, e.remote, data);
  };
  if (socket.connecting) socket.once("connect", note);
  else note();
}

// ---- UDP ----
// A socket's own address, asked of the kernel once (when it is bound), not for every datagram,
// and the peer it last sent to or heard from: most sockets talk to one, and its id is kept.
interface UdpEnds {
  local: number;
  address: string | undefined;
  port: number | undefined;
  remote: number;
  /** The peer of a connected socket, or 0. */
  connected: number;
}
const udpBound = new WeakMap<dgram.Socket, UdpEnds>();
function udpEnds(s: dgram.Socket): UdpEnds | null {
  const known = udpBound.get(s);
  if (known !== undefined) return known;
  try {
    const a = s.address();
    const e = { local: idOf(at(a.address, a.port)), address: undefined, port: undefined, remote: 0, connected: 0 };
    udpBound.set(s, e);
    return e;
  } catch {
    return null; // not bound yet
  }
}
function peer(e: UdpEnds, address: string | undefined, port: number | undefined): number {
  if (e.address !== address || e.port !== port) {
    e.address = address;
    e.port = port;
    e.remote = idOf(at(address, port));
  }
  return e.remote;
}

observe(dgram.Socket.prototype, (socket, event, a) => {
  if (event === "listening") {
    const addr = socket.address();
    record(EVENT["udp bind"], idOf(at(addr.address, addr.port)), 0);
    if (tracing()) traceDatagrams(socket);
    return () => send({ type: "listen", proto: "udp", address: addr.address, port: addr.port });
  } else if (event === "connect") {
    let remote: string | null = null;
    try {
      const r = socket.remoteAddress();
      remote = at(r.address, r.port);
    } catch {
      // Connected and disconnected again already.
    }
    const e = udpEnds(socket);
    if (e) e.connected = idOf(remote);
    record(EVENT["udp connect"], e?.local ?? 0, idOf(remote));
  } else if (event === "close") {
    record(EVENT["udp close"], udpBound.get(socket)?.local ?? 0, 0);
    udpBound.delete(socket);
  } else if (event === "error") {
    send({ type: "error", proto: "udp", code: errorCode(a) });
    errorEvent(EVENT["udp error"], a, udpEnds(socket)?.local ?? 0);
  }
});

// Datagrams are seen where dgram meets the socket's handle, which it sets up before the socket
// starts listening. A datagram comes in as handle.onmessage(nread, handle, bytes, rinfo), before
// dgram emits "message". One goes out as handle.send(req, [bytes], count, port, ip, hasCallback),
// or without port and ip on a connected socket, after dgram's send() has checked its arguments,
// made bytes of a string, resolved the address and bound an unbound socket: what is recorded is
// what goes out, to the address resolved, and none of send()'s work is done twice. Both are
// wrapped per socket when it listens, its addresses at hand: this runs for every datagram.
const aroundHandle = vm.runInThisContext(
  '(function (original, ends, see) { "use strict"; return function (a, b, c, d, e) { try { see(ends, arguments.length, a, b, c, d, e); } catch {} return original.apply(this, arguments); }; })',
  { filename: "lectern:preload" },
) as <T>(original: T, ends: UdpEnds, see: (ends: UdpEnds, count: number, a: never, b: never, c: never, d: never, e: never) => void) => T;
let stateSymbol: symbol | undefined;

function traceDatagrams(socket: dgram.Socket): void {
  stateSymbol ??= Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  const handle = stateSymbol && (socket as unknown as Record<symbol, { handle?: { send?: unknown; onmessage?: unknown } } | undefined>)[stateSymbol]?.handle;
  const e = udpEnds(socket);
  if (!handle || typeof handle.send !== "function" || typeof handle.onmessage !== "function" || e === null) return;
  handle.send = aroundHandle(handle.send, e, sentDatagram);
  handle.onmessage = aroundHandle(handle.onmessage, e, receivedDatagram);
}

function receivedDatagram(e: UdpEnds, _count: number, nread: number, _handle: unknown, data: Buffer, rinfo: dgram.RemoteInfo): void {
  if (nread >= 0) record(EVENT["udp recv"], e.local, peer(e, rinfo.address, rinfo.port), data);
}

function sentDatagram(e: UdpEnds, count: number, _req: unknown, list: Buffer[], _count: number, port: number, ip: string): void {
  const data = list.length === 1 ? list[0]! : Buffer.concat(list);
  record(EVENT["udp send"], e.local, count >= 6 ? peer(e, ip, port) : e.connected, data);
}
