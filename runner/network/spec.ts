// A ```network block -> the page's network: its hosts, routers and links, each link with its
// shaping, and the addresses and routes that follow from them. Pure: building it is build.ts's.
//
//   host client server        hosts (one or more names a line)
//   router r                  a host that forwards between its links
//   link client r delay=20ms loss=10% rate=1mbit
//
// Link k (1-based, in page order) is the subnet 10.0.k.0/24: its first host is 10.0.k.1, its
// second 10.0.k.2. A host's address (host("name")) is the one on its first link.
import { LecternError } from "../errors.ts";
import { NAME_PATTERN } from "../extract/info.ts";

export interface NetHost {
  name: string;
  router: boolean;
  line: number;
}

export interface Link {
  /** 1-based, in page order: the link's subnet is 10.0.<index>.0/24. */
  index: number;
  a: string;
  b: string;
  /** One way, in ms; 0 for none. */
  delayMs: number;
  /** Percent of packets dropped in each direction; 0 for none. */
  lossPct: number;
  /** Bits per second in each direction; 0 for the link's own speed. */
  rateBits: number;
  line: number;
}

export interface NetworkSpec {
  line: number;
  hosts: NetHost[];
  links: Link[];
}

/** The most links a page may have: one /24 each under 10.0.0.0/16. */
const MAX_LINKS = 250;

/** Parses the content of a ```network fence that starts at `line` (the fence's own line). */
export function parseNetwork(path: string, text: string, line: number): NetworkSpec {
  const spec: NetworkSpec = { line, hosts: [], links: [] };
  const byName = new Map<string, NetHost>();
  const pairs = new Set<string>();
  text.split("\n").forEach((raw, i) => {
    const at = { file: path, line: line + 1 + i };
    const fail = (message: string) => new LecternError("E_NETWORK", message, at);
    const words = raw.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return;
    const [what, ...rest] = words as [string, ...string[]];
    if (what === "host" || what === "router") {
      if (rest.length === 0) throw fail(`"${what}" names one or more hosts: ${what} NAME`);
      for (const name of rest) {
        if (!NAME_PATTERN.test(name)) throw fail(`"${name}" is not a host name: start with a letter; letters, digits, - and _ only`);
        const earlier = byName.get(name);
        if (earlier) throw fail(`host "${name}" is already declared at line ${earlier.line}`);
        const host = { name, router: what === "router", line: at.line };
        byName.set(name, host);
        spec.hosts.push(host);
      }
    } else if (what === "link") {
      const [a, b, ...props] = rest;
      if (!a || !b) throw fail("a link joins two hosts: link A B [delay=20ms] [loss=10%] [rate=1mbit]");
      for (const end of [a, b]) if (!byName.has(end)) throw fail(`link names host "${end}", which is not declared above it (hosts: ${[...byName.keys()].join(", ") || "none"})`);
      if (a === b) throw fail(`a link joins two different hosts, not "${a}" to itself`);
      const pair = [a, b].sort().join(" ");
      if (pairs.has(pair)) throw fail(`"${a}" and "${b}" are already linked: one link between two hosts`);
      pairs.add(pair);
      if (spec.links.length === MAX_LINKS) throw fail(`a page's network has at most ${MAX_LINKS} links`);
      spec.links.push({ index: spec.links.length + 1, a, b, ...linkProps(props, fail), line: at.line });
    } else {
      throw fail(`unknown line "${what}": a network block has host, router and link lines`);
    }
  });
  if (spec.hosts.length === 0) throw new LecternError("E_NETWORK", "this network has no hosts: declare them with host NAME", { file: path, line });
  return spec;
}

function linkProps(props: string[], fail: (message: string) => LecternError): Pick<Link, "delayMs" | "lossPct" | "rateBits"> {
  const out = { delayMs: 0, lossPct: 0, rateBits: 0 };
  for (const prop of props) {
    const [key, value = ""] = prop.split("=", 2) as [string, string?];
    if (key === "delay") {
      const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(value);
      const ms = m ? Number(m[1]) * (m[2] === "s" ? 1000 : 1) : NaN;
      if (!(ms >= 0 && ms <= 10_000)) throw fail(`delay=${value}: a delay is a duration such as 20ms or 1s, at most 10s`);
      out.delayMs = ms;
    } else if (key === "loss") {
      const m = /^(\d+(?:\.\d+)?)%$/.exec(value);
      const pct = m ? Number(m[1]) : NaN;
      if (!(pct >= 0 && pct <= 100)) throw fail(`loss=${value}: a loss is a percentage such as 10%, from 0% to 100%`);
      out.lossPct = pct;
    } else if (key === "rate") {
      const m = /^(\d+(?:\.\d+)?)(kbit|mbit|gbit)$/i.exec(value);
      const bits = m ? Number(m[1]) * { kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2]!.toLowerCase() as "kbit"] : NaN;
      if (!(bits >= 8000 && bits <= 1e10)) throw fail(`rate=${value}: a rate is such as 500kbit, 1mbit or 1gbit, from 8kbit`);
      out.rateBits = bits;
    } else {
      throw fail(`unknown link property "${key}": a link takes delay=, loss= and rate=`);
    }
  }
  return out;
}

/** Where a host is on one of its links. */
export interface Attachment {
  link: Link;
  /** The interface's name in the host's namespace, and its peer's in the other's. */
  device: string;
  address: string;
  peer: string;
  peerAddress: string;
}

/** The host's end of each of its links, in link order. */
export function attachments(spec: NetworkSpec, host: string): Attachment[] {
  const out: Attachment[] = [];
  for (const link of spec.links) {
    if (link.a !== host && link.b !== host) continue;
    const first = link.a === host;
    const peer = first ? link.b : link.a;
    out.push({ link, device: `${first ? "a" : "b"}${link.index}-${peer}`.slice(0, 15), address: `10.0.${link.index}.${first ? 1 : 2}`, peer, peerAddress: `10.0.${link.index}.${first ? 2 : 1}` });
  }
  return out;
}

/** A host's address for host("name"): on its first link; 127.0.0.1 for a host with none. */
export function hostAddress(spec: NetworkSpec, host: string): string {
  return attachments(spec, host)[0]?.address ?? "127.0.0.1";
}

/** HOSTNAME -> LECTERN_HOST_<NAME>, as port names become LECTERN_PORT_<NAME>. */
export function hostEnv(name: string): string {
  return "LECTERN_HOST_" + name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/**
 * The routes a host needs to the subnets it is not on: through the neighbour on the shortest
 * path, where every host between is a router (an ordinary host does not forward).
 */
export function routes(spec: NetworkSpec, host: string): { subnet: string; via: string }[] {
  const routers = new Set(spec.hosts.filter((h) => h.router).map((h) => h.name));
  const direct = new Set(attachments(spec, host).map((a) => a.link.index));
  const out: { subnet: string; via: string }[] = [];
  // Breadth first from the host: the first hop of the path to each host reached through routers.
  const firstHop = new Map<string, string>([[host, ""]]);
  const queue = [host];
  while (queue.length > 0) {
    const at = queue.shift()!;
    if (at !== host && !routers.has(at)) continue;
    for (const att of attachments(spec, at)) {
      if (firstHop.has(att.peer)) continue;
      firstHop.set(att.peer, at === host ? att.peerAddress : firstHop.get(at)!);
      queue.push(att.peer);
      for (const far of attachments(spec, att.peer)) {
        if (direct.has(far.link.index) || out.some((r) => r.subnet === subnetOf(far.link))) continue;
        // A subnet on the far side of a router is reached through the path to that router.
        if (routers.has(att.peer)) out.push({ subnet: subnetOf(far.link), via: at === host ? att.peerAddress : firstHop.get(at)! });
      }
    }
  }
  return out;
}

export const subnetOf = (link: Link) => `10.0.${link.index}.0/24`;

/** What the cache keys: the network as its cells see it (a change of delay is another run). */
export function networkKey(spec: NetworkSpec | null): string {
  if (!spec) return "";
  const hosts = spec.hosts.map((h) => `${h.router ? "router" : "host"} ${h.name}`);
  const links = spec.links.map((l) => `link ${l.a} ${l.b} ${l.delayMs} ${l.lossPct} ${l.rateBits}`);
  return [...hosts, ...links].join("\n");
}
