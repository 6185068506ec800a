// NetworkSpec -> the network, for one page run: a network namespace per host (each held by its
// own holder, execute/holder.ts), a veth pair per link (a relay of TUN devices where the link has
// a delay, relay.ts), addresses from 10.0.0.0/16 inside those namespaces only, routes through the
// routers, rate with tbf and loss with nftables on each end's way out. Nothing joins Lectern's
// own namespace, so no packet can leave the page's network. The namespaces go when their holders
// go (with Lectern, even SIGKILLed: holder.ts), and every device and rule goes with them.
import { enter, holdNamespace, ROOTLESS, type Holder } from "../execute/holder.ts";
import { findTool } from "../execute/tools.ts";
import { attachments, routes, type Link, type NetworkSpec } from "./spec.ts";
import { startRelay, type Relay } from "./relay.ts";

/** One of a host's interfaces, as the capture names it (its index is the host namespace's own). */
export interface Device {
  index: number;
  name: string;
  /** The link it is an end of; null for loopback. */
  link: number | null;
  /** A device that only sees the packets the link's loss dropped on their way out. */
  dropped: boolean;
}

export interface BuiltHost {
  name: string;
  holder: Holder;
  /** Its address on every link, the first being host("name")'s. */
  addresses: string[];
  devices: Device[];
}

export interface BuiltNetwork {
  hosts: BuiltHost[];
  links: Link[];
  close(): void;
}

/** Why a page's network could not be made here: its cells are reported skipped with this. */
export class NetworkUnavailable extends Error {}

/** Asks a holder for what `ip`, `tc` or `nft` would do (holder.pl); every answer must be `ok`. */
async function ask(holder: Holder, requests: string[]): Promise<void> {
  const answers = await Promise.all(requests.map((r) => holder.ask(r)));
  const failed = answers.find((a) => a !== "ok");
  if (failed !== undefined) throw new Error(failed.replace(/^error /, ""));
}

/** The drop device of a lossy link's end: what the loss took away is seen on it, not lost to the capture. */
const dropDevice = (link: Link) => `drop${link.index}`;

/**
 * Builds the page's network. `held` is told of each host's namespace as soon as it exists, before
 * its links: the capture starts there while the rest is built (tcpdump -i any sees devices that
 * come later). `ready`: namespaces already held, fresh (root only: the spares execute/sandbox.ts
 * makes while the page before runs), for the first hosts.
 */
export async function buildNetwork(spec: NetworkSpec, held?: (host: string, holder: Holder) => void, ready: Holder[] = []): Promise<BuiltNetwork> {
  if (!findTool("perl", process.env.PATH, false)) throw new NetworkUnavailable("perl is not installed (Debian: perl-base), so this page's network cannot be made");
  const holders: Holder[] = [];
  const relays: Relay[] = [];
  const given = ready.slice(0, spec.hosts.length);
  for (const extra of ready.slice(spec.hosts.length)) extra.kill();
  const close = () => {
    for (const r of relays) r.stop();
    for (const h of holders) h.kill();
  };
  try {
    // Not root: every host's namespace in the first one's user namespace, where a link may join
    // two. Root: all at once.
    const firstMade = given[0] ? Promise.resolve(given[0]) : holdNamespace();
    const made = [firstMade, ...spec.hosts.slice(1).map(async (_, i) => given[i + 1] ?? (ROOTLESS ? holdNamespace((await firstMade) ?? undefined) : holdNamespace()))];
    for (const h of await Promise.all(made)) if (h) holders.push(h);
    if (holders.length < spec.hosts.length) throw new NetworkUnavailable("network namespaces cannot be made on this machine");
    const first = holders[0]!;
    spec.hosts.forEach((h, i) => held?.(h.name, holders[i]!));
    // Before any link: its ends get no IPv6 link-local address, whose neighbour discovery would
    // be packets no cell sent.
    await Promise.all(holders.map((h) => ask(h, ["quiet"])));
    const holderOf = new Map(spec.hosts.map((h, i) => [h.name, holders[i]!]));
    const pid = (host: string) => holderOf.get(host)!.pid;
    // The links: a veth pair has its two ends put in place as it is made (by the first host's
    // holder, with the netlink request `ip link add` sends; not root, its user namespace owns
    // every host's); a delayed link is a pair of TUN devices with our relay between them, which
    // makes, addresses and sets up both ends itself.
    const pairs: string[] = [];
    const delayed: Promise<Relay>[] = [];
    for (const link of spec.links) {
      const [ea, eb] = [attachments(spec, link.a), attachments(spec, link.b)].map((list) => list.find((x) => x.link === link)!);
      if (link.delayMs > 0) {
        const peerNet = `/proc/${pid(link.b)}/ns/net`;
        delayed.push(startRelay(enter(holderOf.get(link.a)!), link.delayMs, ea!.device, eb!.device, { peerNet, addresses: [`${ea!.address}/24`, `${eb!.address}/24`] }));
      } else {
        pairs.push(`veth ${ea!.device} ${pid(link.a)} ${eb!.device} ${pid(link.b)}`);
      }
      if (link.lossPct > 0) for (const host of [link.a, link.b]) pairs.push(`veth ${dropDevice(link)} ${pid(host)} ${dropDevice(link)}p ${pid(host)}`);
    }
    // Each started relay is ours to stop, even when another failed to start.
    const [veths, ...started] = await Promise.allSettled([ask(first, pairs), ...delayed]);
    for (const r of started) if (r.status === "fulfilled") relays.push(r.value as Relay);
    const refused = [veths, ...started].find((r): r is PromiseRejectedResult => r!.status === "rejected");
    if (refused) throw refused.reason;
    const devices = await Promise.all(spec.hosts.map((host) => configure(spec, host.name, holderOf.get(host.name)!)));
    return {
      hosts: spec.hosts.map((h, i) => ({ name: h.name, holder: holders[i]!, addresses: attachments(spec, h.name).map((a) => a.address), devices: devices[i]! })),
      links: spec.links,
      close,
    };
  } catch (err) {
    close();
    if (err instanceof NetworkUnavailable) throw err;
    throw new NetworkUnavailable(`this page's network could not be made: ${(err as Error).message}`);
  }
}

/** One host's side: addresses, routes, forwarding, rate and loss; then its devices as the kernel numbered them. */
async function configure(spec: NetworkSpec, host: string, holder: Holder): Promise<Device[]> {
  const mine = attachments(spec, host);
  const requests: string[] = [];
  const shaping: string[] = [];
  const names = ["lo"];
  for (const a of mine) {
    names.push(a.device);
    // The relay of a delayed link has addressed and set up its ends already.
    if (a.link.delayMs === 0) requests.push(`addr ${a.device} ${a.address}/24`, `up ${a.device}`);
    if (a.link.rateBits > 0) {
      // A bucket of at least two full frames, and at most 200 ms of queue behind it.
      const burst = Math.max(3200, Math.round(a.link.rateBits / 8 / 100));
      shaping.push(`rate ${a.device} ${a.link.rateBits} ${burst} 200`);
    }
    if (a.link.lossPct > 0) {
      const drop = dropDevice(a.link);
      names.push(drop, `${drop}p`);
      requests.push(`up ${drop}p`, `up ${drop}`);
      // On the way out, before the capture sees the packet leave: a dropped one is copied to the
      // drop device instead, so the trace knows where it was lost.
      shaping.push(`loss ${a.link.index} ${a.device} ${Math.round(a.link.lossPct * 100)} ${drop}`);
    }
  }
  if (spec.hosts.find((h) => h.name === host)!.router) requests.push("forward");
  // A route's device is up, with its address, before the route; nothing is sent before cells start.
  const ip = routes(spec, host).map((r) => `route ${r.subnet} ${r.via}`);
  await ask(holder, [...requests, ...ip, ...shaping]);
  const answer = await holder.ask(`index ${names.join(" ")}`);
  const indexes = answer.split(" ").slice(1).map(Number);
  return names.map((name, i) => {
    const end = mine.find((a) => a.device === name);
    const drop = /^drop(\d+)$/.exec(name);
    return { index: indexes[i] ?? 0, name, link: end ? end.link.index : drop ? Number(drop[1]) : null, dropped: drop !== null };
  });
}
