// The network guard, where a page's cells have no namespace of their own: TCP connections and
// UDP datagrams to hosts other than loopback (and the ones --allow-net names) are refused.
// A guard against mistakes, not a sandbox: a child process or native code is not held back.
import dgram from "node:dgram";
import net from "node:net";

let allowed: string[] | null = null;

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

/** Reports a refused send or connect as dgram reports its own errors: to the callback, or as "error", on the next tick. */
function fail(socket: dgram.Socket, args: unknown[], err: Error): void {
  const callback = args.find((a) => typeof a === "function") as ((e: Error) => void) | undefined;
  process.nextTick(() => (callback ? callback(err) : socket.emit("error", err)));
}

/** Installs the guard; `list` holds what --allow-net named ("loopback" is always allowed). */
export function installGuard(list: string[]): void {
  allowed = list;
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
    if (err) return fail(this, args, err);
    sendTo.apply(this, args);
  } as typeof dgram.Socket.prototype.send;

  // connect(port, [address], [callback]): after it, send() needs no address, so check it here.
  const connectTo = dgram.Socket.prototype.connect as (...args: unknown[]) => void;
  dgram.Socket.prototype.connect = function (this: dgram.Socket, ...args: unknown[]) {
    const address = typeof args[1] === "string" ? args[1] : "localhost";
    const err = typeof args[0] === "number" ? refusal(address, args[0]) : null;
    if (err) return fail(this, args, err);
    connectTo.apply(this, args);
  } as typeof dgram.Socket.prototype.connect;
}
