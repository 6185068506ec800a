// Readiness of a cell that does not report its own sockets (Python, C, shell): its listening TCP
// sockets and bound UDP sockets, the sockets its processes hold found in the socket tables of its
// network namespace (trace/sockets.ts, as `ss -lp` finds them). No connection is made to the port
// and nothing sleeps: its descriptors are read every millisecond, and the tables for a socket not
// seen before, until the cell listens on every port it serves; then the watch stops.
import { cellSockets, locateSockets } from "../trace/sockets.ts";

/** How often the table is read while a server starts: the delay a client may wait at most, past the bind. */
const EVERY_MS = 1;

/**
 * Calls `onListen` once for each socket the cell's processes listen or bind on (a TCP welcome
 * socket, a UDP socket), as the TypeScript preload does on its side channel. Returns the stop.
 */
export function watchListening(pid: number, onListen: (proto: "tcp" | "udp", port: number) => void): () => void {
  const seen = new Set<string>();
  const look = () => {
    // Only a socket not seen listening yet costs a look at the tables (TCP's are dear: sockets.ts).
    const fresh = cellSockets(pid).filter((inode) => !seen.has(inode));
    if (fresh.length === 0) return;
    // The tables of the namespace the cell's first process is in: the page's, once nsenter has joined it.
    for (const [inode, e] of locateSockets(pid, fresh)) {
      // A UNIX socket, a TCP connection: never this cell's welcome socket. A TCP socket made but
      // not listening yet is in no table, so it is looked at again.
      if (e === "unix" || (e.proto === "tcp" && !e.listening)) seen.add(inode);
      else seen.add(inode), onListen(e.proto, Number(e.local.slice(e.local.lastIndexOf(":") + 1)));
    }
  };
  // The first look comes a millisecond after spawn (the process has no socket before it runs),
  // so the caller holds the stop before onListen can be called. A look that read the TCP tables
  // (a socket made but not yet listening) spaces the next out, to a fifth of a core at most.
  let timer: NodeJS.Timeout;
  const next = () => {
    const t0 = performance.now();
    look();
    timer = setTimeout(next, Math.max(EVERY_MS, 4 * (performance.now() - t0)));
  };
  timer = setTimeout(next, EVERY_MS);
  return () => clearTimeout(timer);
}
