// Where a page's cells run, on Linux where the machine allows it: one network namespace per page
// run with only loopback in it, each cell confined by bubblewrap inside it (bwrap.ts), and per
// cell a pids cgroup (caps forks, finds every process the cell started even if it left its
// process group) and a memory cgroup (caps its memory), both applied from outside.
// Elsewhere: the preload's loopback guard and V8's heap limit.
import { rmSync } from "node:fs";
import type { Reservations } from "../plan/ports.ts";
import { bwrapArgs, type Confine } from "./bwrap.ts";
import { findControllers, JOIN, makeGroups, MEMORY_MOUNT, outerKills, ranOutOfMemory, sweepGroups } from "./cgroups.ts";
import { enterCommand } from "./enter.ts";
import { enter, holdNamespace, ROOTLESS, type Holder } from "./holder.ts";
import { ownTempDir } from "../tempdir.ts";
import { buildNetwork, NetworkUnavailable, type BuiltNetwork } from "../network/build.ts";
import type { NetworkSpec } from "../network/spec.ts";
import { startTcpdump, type Tcpdump } from "../trace/tcpdump.ts";

export interface SandboxOptions {
  /** Give the cells their own network namespace (off with --allow-net or pinned ports). */
  isolateNet: boolean;
  /**
   * The bwrap binary that confines each cell (probeSandbox), or null: cells run unconfined. A
   * promise may be given: the namespace is made while bwrap is tried, and a refusal (a sandbox
   * required and missing) undoes it.
   */
  bwrap: string | null | Promise<string | null>;
  /** Start tcpdump on the namespace's loopback with it (trace/tcpdump.ts), for the page's capture. */
  capture: boolean;
  /** The page's network block: a namespace per host instead of one for the page (network/build.ts). */
  network?: NetworkSpec | null;
}

/** What one cell's confinement needs to know besides the command (bwrap.ts). */
export type CellConfine = Omit<Confine, "env" | "scratch">;

export interface Sandbox {
  /** What the cells get: "namespace" (only loopback exists) or "guard" (the preload refuses other hosts). */
  readonly net: "namespace" | "guard";
  /** True when a memory cgroup caps each cell; otherwise the runner asks V8 for a heap limit. */
  readonly memoryCapped: boolean;
  /** True when each cell runs inside bubblewrap. */
  readonly confined: boolean;
  /**
   * The command line that starts `command args` for a cell: inside the page's network namespace,
   * if any, and inside bubblewrap with `confine`'s view of the disk and `env`, if confined.
   */
  wrap(cell: string, command: string, args: string[], env: Record<string, string>, confine: CellConfine, host?: string | null): { command: string; args: string[] };
  /** The page's network as built, or null: one namespace (or none) for the page. */
  readonly network: BuiltNetwork | null;
  /**
   * Reserves the page's named ports inside its network namespace, until handOver(); null where
   * there is no namespace (or no perl to hold ports in it): plan/ports.ts reserves them then.
   */
  reserve(names: string[], served: Set<string>): Promise<Reservations> | null;
  /** The tcpdump started with the namespace (SandboxOptions.capture), handed over once; null after. */
  takeCapture(): Tcpdump | null;
  /** The same for one host of the page's network (tcpdump -i any in its namespace). */
  takeHostCapture(host: string): Tcpdump | null;
  /** The command line that starts a helper of Lectern's (not a cell) in the page's network namespace. */
  inNet(command: string, args: string[]): { command: string; args: string[] };
  /** True if the cell ran into its memory limit (the kernel then kills it). */
  outOfMemory(cell: string): boolean;
  /** Kills every process still in the cell's cgroups and removes them (no-op without cgroups). */
  sweep(cell: string): void;
  close(): void;
}

let sequence = 0;

/** A page run's network namespace: its holder, and tcpdump capturing its loopback if asked. */
interface Namespace {
  holder: Holder;
  dump: Tcpdump | null;
}

/** A namespace held, and its capture started if asked: of loopback (a page's), or of every device (a host's). */
async function makeNamespace(capture: boolean, device: "lo" | "any" = "lo"): Promise<Namespace | null> {
  const holder = await holdNamespace();
  return holder && { holder, dump: capture ? startTcpdump(enter(holder), device) : null };
}

// The next page's namespace and capture, started while this one runs: making them costs tens of
// milliseconds (unshare, ip, tcpdump opening its capture) that a page of one cell would otherwise
// wait for. Only from a process's second page on: most runs are of one page, and a spare they
// never use costs the machine as much as the page's own. Killed at exit if unused.
let spare: Promise<Namespace | null> | null = null;
let pages = 0;

// The same for a network's hosts, each with its capture on every device, as root (not root, a
// network's hosts must share the first one's user namespace, made with it): from a process's
// second network page on, as many as this page has, for the next. Killed at exit if unused.
let spareHosts: Promise<Namespace[]> | null = null;
let networkPages = 0;

async function makeHosts(count: number, capture: boolean): Promise<Namespace[]> {
  const made = await Promise.all(Array.from({ length: count }, () => makeNamespace(capture, "any")));
  return made.filter((ns): ns is Namespace => ns !== null);
}

/** The page's network, each host's capture started as soon as its namespace exists, while its links are made. */
async function hostsOf(options: SandboxOptions, dumps: Map<string, Tcpdump>): Promise<BuiltNetwork> {
  if (!options.isolateNet) throw new NetworkUnavailable("--allow-net and pinned ports run cells in the machine's own network, not on this page's hosts");
  const spec = options.network!;
  // Taken before any await, as the page's one namespace is.
  const taken = spareHosts;
  spareHosts = !ROOTLESS && ++networkPages > 1 ? makeHosts(spec.hosts.length, options.capture) : null;
  const ready: Holder[] = [];
  for (const ns of (await taken) ?? []) {
    // A spare that died while it waited is no namespace to build on.
    if (ready.length < spec.hosts.length && ns.holder.alive()) {
      const host = spec.hosts[ready.length]!.name;
      ready.push(ns.holder);
      if (ns.dump && options.capture) dumps.set(host, ns.dump);
      else ns.dump?.discard();
    } else {
      ns.dump?.discard();
      ns.holder.kill();
    }
  }
  return buildNetwork(
    spec,
    (host, holder) => {
      const dump = options.capture && !dumps.has(host) ? startTcpdump(enter(holder), "any") : null;
      if (dump) dumps.set(host, dump);
    },
    ready,
  ).catch((err: Error) => {
    for (const dump of dumps.values()) dump.discard();
    throw err;
  });
}

/** The page's one namespace: the spare if there is one (and the next page's spare started). */
async function pageNamespace(capture: boolean): Promise<Namespace | null> {
  // Taken before any await: two pages starting at once must not share one.
  const mine = spare ?? makeNamespace(capture);
  spare = ++pages > 1 ? makeNamespace(capture) : null;
  let ns = await mine;
  // A spare that died while it waited is no namespace to enter.
  if (ns && !ns.holder.alive()) {
    ns.dump?.discard();
    ns = await makeNamespace(capture);
  }
  if (ns?.dump && !capture) {
    ns.dump.discard();
    ns.dump = null;
  }
  return ns;
}

/**
 * The sandbox of a page run. A page with a network gets a namespace per host, or, where they
 * cannot be made (or --allow-net asks for the machine's network), NetworkUnavailable: its cells
 * must not run on loopback as if nothing were different.
 */
export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const hierarchies = findControllers();
  const hostDumps = new Map<string, Tcpdump>();
  const confining = Promise.resolve(options.bwrap);
  confining.catch(() => {}); // awaited below, after the namespace
  const network = options.network ? await hostsOf(options, hostDumps) : null;
  const ns: Namespace | null = network ? { holder: network.hosts[0]!.holder, dump: null } : options.isolateNet ? await pageNamespace(options.capture) : null;
  // The namespaces, their holders and the captures nobody took.
  const release = () => {
    ns?.dump?.discard();
    for (const dump of hostDumps.values()) dump.discard();
    ns?.holder.kill();
    network?.close();
  };
  const bwrap = await confining.catch((err) => {
    release();
    throw err;
  });
  const holder = ns?.holder ?? null;
  const run = `${process.pid}-${++sequence}`;
  const groups = new Map<string, string[]>();
  const memory = hierarchies.find((c) => c.root.startsWith(`${MEMORY_MOUNT}/`));
  // The OOM kills in the memory groups above Lectern's, to tell later whether one was this run's.
  const outerAtStart = outerKills(memory?.root);

  const sweep = (cell: string) => sweepGroups(groups, cell);

  // A cell joins the page's namespace (nsenter) before bwrap confines it: bwrap cannot join one.
  const inNet = holder ? enter(holder) : (command: string, args: string[]) => ({ command, args });
  const inHost = (host: string | null | undefined) => {
    const h = host ? network?.hosts.find((x) => x.name === host) : undefined;
    return h ? enter(h.holder) : inNet;
  };
  const scratch = bwrap ? ownTempDir("lectern-scratch") : null;

  return {
    net: holder ? "namespace" : "guard",
    memoryCapped: memory !== undefined,
    confined: bwrap !== null,
    inNet,
    network,
    reserve: (names, served) => (network ? reserveOnHosts(network, names, served) : (holder?.reserve(names, served) ?? null)),
    takeCapture() {
      const dump = ns?.dump ?? null;
      if (ns) ns.dump = null;
      return dump;
    },
    takeHostCapture(host) {
      const dump = hostDumps.get(host) ?? null;
      hostDumps.delete(host);
      return dump;
    },
    wrap(cell, command, args, env, confine, host) {
      const inNet = inHost(host);
      const dirs = makeGroups(hierarchies, `${run}-${cell}`);
      if (dirs.length > 0) groups.set(cell, [...(groups.get(cell) ?? []), ...dirs]);
      const inside = bwrap && scratch ? inNet(bwrap, [...bwrapArgs({ ...confine, env, scratch }), command, ...args]) : inNet(command, args);
      if (dirs.length === 0 && !bwrap) return inside;
      // The cell's first process joins its groups itself, before it execs anything: Lectern moving
      // it there after spawn() raced bwrap's fork of the cell on a busy machine, which left the
      // cell outside its limits. In the sandbox it also ignores SIGTERM, which bwrap inherits
      // (node and the shells under it reset that), so Lectern's SIGTERM to the group reaches the
      // cell, which may handle it, and bwrap reports how the cell ended.
      const ignore = bwrap && scratch ? "trap '' TERM; " : "";
      return enterCommand(dirs, ignore !== "", inside) ?? { command: "/bin/sh", args: ["-c", `${ignore}${JOIN}`, "sh", ...dirs, "--", inside.command, ...inside.args] };
    },
    outOfMemory(cell) {
      const dir = groups.get(cell)?.find((d) => memory && d.startsWith(memory.root));
      return dir !== undefined && ranOutOfMemory(dir, memory!.root, outerAtStart);
    },
    sweep,
    close() {
      for (const cell of [...groups.keys()]) sweep(cell);
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      release();
    },
  };
}

/**
 * A port's number is the page's on every host: drawn on the first host, held on the others too,
 * and let go of everywhere when its server is about to start (wherever that server runs).
 */
async function reserveOnHosts(network: BuiltNetwork, names: string[], served: Set<string>): Promise<Reservations> {
  const [first, ...others] = network.hosts.map((h) => h.holder);
  const ports = await first!.reserve(names, new Set(names));
  if (!ports) throw new Error("the hosts of this page's network need perl to hold its ports");
  const numbers = ports.numbers();
  await Promise.all(others.map((h) => h.take(names.map((n) => numbers[n]!))));
  const held = new Set(names);
  const handOver = async (name: string) => {
    if (!held.delete(name)) return;
    await Promise.all([ports.handOver(name), ...others.map((h) => h.free(numbers[name]!))]);
  };
  for (const name of names) if (!served.has(name)) await handOver(name);
  return { numbers: () => numbers, handOver, close: async () => held.clear() };
}
