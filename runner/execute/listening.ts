// Readiness of a cell that does not report its own sockets (Python, C, shell): its listening TCP
// sockets and bound UDP sockets, read from the socket table of its network namespace and owned
// by one of its processes (trace/sockets.ts, as `ss -lp` finds them). No connection is made to
// the port and nothing sleeps: the table is read every millisecond until the cell listens on
// every port it serves, then the watch stops.
import { cellPids, socketInodes, socketTable } from "../trace/sockets.ts";

/** How often the table is read while a server starts: the delay a client may wait at most, past the bind. */
const EVERY_MS = 1;

/**
 * Calls `onListen` once for each socket the cell's processes listen or bind on (a TCP welcome
 * socket, a UDP socket), as the TypeScript preload does on its side channel. Returns the stop.
 */
export function watchListening(pid: number, onListen: (proto: "tcp" | "udp", port: number) => void): () => void {
  const seen = new Set<string>();
  const look = () => {
    // The table of the namespace the cell's first process is in: the page's, once nsenter has joined it.
    const fresh = socketTable(pid).filter((e) => (e.listening || e.proto === "udp") && !seen.has(e.inode));
    if (fresh.length === 0) return;
    // Only a new socket costs a look at the cell's descriptors: whose is it?
    const mine = new Set(cellPids(pid).flatMap(socketInodes));
    for (const e of fresh) {
      // Another cell's socket (or, before nsenter, the host's) never becomes this cell's: one look each.
      seen.add(e.inode);
      if (mine.has(e.inode)) onListen(e.proto, Number(e.local.slice(e.local.lastIndexOf(":") + 1)));
    }
  };
  // The first look comes a millisecond after spawn (the process has no socket before it runs),
  // so the caller holds the stop before onListen can be called.
  const timer = setInterval(look, EVERY_MS);
  return () => clearInterval(timer);
}
