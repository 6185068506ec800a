// Who may talk to the live server. A page that runs code is a remote-code-execution endpoint, so
// every request passes three checks before anything else: its Host is one this server answers to
// (a DNS-rebound name is not), it carries the secret token (in the URL once, then an HttpOnly
// SameSite=Strict cookie), and a request that changes anything comes from this origin (CSRF).
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export interface Refusal {
  status: number;
  message: string;
}

export interface Guard {
  token: string;
  /** The cookie's name: one per port, since cookies do not tell ports apart. */
  cookie: string;
  /** null when the request may go on; the token it carried in its URL, if any, is `fromUrl`. */
  check(req: IncomingMessage, url: URL): Refusal | null;
  /** The Set-Cookie header that lets this browser in from now on. */
  setCookie(): string;
}

/** The `host:port` forms a browser on this machine sends for this server. */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set(["127.0.0.1", "localhost", "[::1]"]);
  if (host !== "0.0.0.0" && host !== "::") names.add(host.includes(":") && !host.startsWith("[") ? `[${host}]` : host);
  return new Set([...names].map((n) => `${n}:${port}`.toLowerCase()));
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export function createGuard(hosts: Set<string>, port: number, token = randomBytes(24).toString("base64url")): Guard {
  const cookie = `lectern-token-${port}`;
  const origins = new Set([...hosts].map((h) => `http://${h}`));
  return {
    token,
    cookie,
    check(req, url) {
      const host = (req.headers.host ?? "").toLowerCase();
      if (!hosts.has(host)) return { status: 403, message: `refused: Host "${host}" is not this server (it answers to ${[...hosts].join(", ")})` };
      const given = url.searchParams.get("token") ?? cookieValue(req.headers.cookie, cookie);
      if (given === null || !sameToken(given, token)) return { status: 401, message: "refused: open the URL that `lectern serve` printed (it carries ?token=...)" };
      const origin = req.headers.origin;
      // A state-changing request must say where it comes from, and that must be here: forms and
      // scripts of other sites are refused even when the browser sends the cookie along.
      if (STATE_CHANGING.has(req.method ?? "") && (origin === undefined || !origins.has(origin.toLowerCase()))) {
        return { status: 403, message: `refused: a request from origin "${origin ?? "(none)"}" may not run or save` };
      }
      // A cross-origin read (an EventSource of another site) says so in its Origin: no output for it.
      if (origin !== undefined && !origins.has(origin.toLowerCase())) return { status: 403, message: `refused: origin "${origin}" may not read this server` };
      if (req.headers["sec-fetch-site"] === "cross-site") return { status: 403, message: "refused: a cross-site request" };
      return null;
    },
    setCookie() {
      return `${cookie}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    },
  };
}
