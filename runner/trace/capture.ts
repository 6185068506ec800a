// A page run's packet capture: tcpdump on the loopback of the page's network namespace, started
// before the first cell and stopped after the last, writing a classic pcap file; and, while cells
// run, who owns which socket (sockets.ts). Where there is no namespace or no tcpdump, there is no
// capture, and the page's trace is the cells' own socket events, with the reason why.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { copyFile, readFile } from "node:fs/promises";
import { writeAtomic } from "../atomic.ts";
import { validCapture } from "../cache/schema.ts";
import type { Sandbox } from "../execute/sandbox.ts";
import { clockMs } from "../../cells/wire.ts";
import { SocketWatch, type Owner } from "./sockets.ts";
import { enter } from "../execute/holder.ts";
import { mergeCaptures, mergedIndex } from "./merge.ts";
import { findTcpdump, MAX_PACKETS, startTcpdump, type Tcpdump } from "./tcpdump.ts";

/** What a page's run captured, handed to the trace (wiretrace.ts) and to `run --json`. */
export interface CaptureInfo {
  /** The pcap file, or null when there is none. */
  path: string | null;
  /** Why there is no capture, or what it left out. */
  skipped: string | null;
  /** The capture's clock (Unix ms) minus the trace's (clockMs()), measured at its start. */
  offset: number;
  /** The run's start, in clockMs() (what the trace's times count from) and as its cells' `ranAt`. */
  clock0: number;
  ranAt: string;
  owners: Owner[];
  /** The cells of the run: when each ran, and whether it reported its own sockets. */
  cells: { name: string; lang: string; from: number; to: number; host?: string }[];
  /** A page with a network: its hosts and links, and the devices the merged capture numbers (merge.ts). */
  network?: CapturedNetwork;
}

export interface CapturedNetwork {
  hosts: { name: string; addresses: string[] }[];
  links: { index: number; a: string; b: string; delayMs: number; lossPct: number }[];
  /** By their index in the merged file. */
  devices: { index: number; host: string; name: string; link: number | null; dropped: boolean }[];
}

/** Whether a run with this setting captures packets (tcpdump may still be missing: start() says). */
export function captureWanted(trace: boolean): boolean {
  return trace && process.env.LECTERN_CAPTURE !== "off";
}

/** The capture file of a page: one per page in the cache, replaced by each run. */
export function capturePath(cacheDir: string, page: string): string {
  const tag = createHash("sha256").update(page).digest("hex").slice(0, 10);
  return join(cacheDir, "captures", `${basename(page).replace(/\.md$/i, "")}-${tag}.pcap`);
}

export class PageCapture {
  private dump: Tcpdump | null = null;
  private watch: SocketWatch | null = null;
  /** A page with a network: a capture and a watch of the socket tables on each host, in host order. */
  private hosts: { name: string; dump: Tcpdump; watch: SocketWatch }[] = [];
  private network: CapturedNetwork | undefined;
  private skipped: string | null = null;
  private offset = 0;
  private readonly cells = new Map<string, { name: string; lang: string; from: number; to: number; host?: string }>();

  constructor(
    private readonly path: string,
    private readonly enabled: boolean,
    private readonly clock0: number,
    private readonly ranAt: string,
  ) {}

  /** Takes over the namespace's tcpdump (or starts one) and resolves once it is capturing, or has failed to. */
  async start(sandbox: Sandbox): Promise<void> {
    if (!this.enabled) return void (this.skipped = "tracing is off");
    if (!captureWanted(true)) return void (this.skipped = "the capture is off (LECTERN_CAPTURE=off), so the trace is what the cells' Node.js sockets reported");
    if (sandbox.net !== "namespace") return void (this.skipped = "the cells did not run in a network namespace of their own (--allow-net, a pinned port, or a machine without namespaces), so the trace is what their Node.js sockets reported");
    if (!findTcpdump()) return void (this.skipped = "tcpdump is not installed, so the trace is what the cells' Node.js sockets reported");
    if (sandbox.network) return this.startOnHosts(sandbox);
    const dump = sandbox.takeCapture() ?? startTcpdump(sandbox.inNet);
    if (!dump) return void (this.skipped = "the capture file could not be made in the temporary folder");
    dump.adopt();
    this.dump = dump;
    const ok = await dump.ready;
    // The pcap's stamps are wall-clock, the trace's monotonic.
    this.offset = Date.now() - clockMs();
    if (!ok) {
      this.skipped = `the capture could not start: ${dump.stderr().trim().split("\n").pop() || "tcpdump did not answer"}`;
      dump.discard();
      this.dump = null;
      return;
    }
    this.watch = new SocketWatch(dump.proc.pid!, clockMs);
  }

  /** One tcpdump on every device of each host, all listening before the first cell starts. */
  private async startOnHosts(sandbox: Sandbox): Promise<void> {
    const network = sandbox.network!;
    const started = network.hosts.map((h) => ({ host: h, dump: sandbox.takeHostCapture(h.name) ?? startTcpdump(enter(h.holder), "any") }));
    for (const { dump } of started) dump?.adopt();
    const ok = await Promise.all(started.map(({ dump }) => dump?.ready ?? false));
    this.offset = Date.now() - clockMs();
    const failed = started.findIndex((_, i) => !ok[i]);
    if (failed >= 0) {
      const why = started[failed]!.dump?.stderr().trim().split("\n").pop() || "tcpdump did not answer";
      this.skipped = `the capture on host ${started[failed]!.host.name} could not start: ${why}`;
      for (const { dump } of started) dump?.discard();
      return;
    }
    this.hosts = started.map(({ host, dump }) => ({ name: host.name, dump: dump!, watch: new SocketWatch(dump!.proc.pid!, clockMs) }));
    this.network = {
      hosts: network.hosts.map((h) => ({ name: h.name, addresses: h.addresses })),
      links: network.links.map((l) => ({ index: l.index, a: l.a, b: l.b, delayMs: l.delayMs, lossPct: l.lossPct })),
      devices: network.hosts.flatMap((h, i) => h.devices.map((d) => ({ ...d, index: mergedIndex(i, d.index), host: h.name }))),
    };
  }

  /** A network's host the cell runs on (the first for a cell without host=); null without a network. */
  private hostOf(cell: string): { dump: Tcpdump; watch: SocketWatch } | null {
    if (this.hosts.length === 0) return null;
    return this.hosts.find((h) => h.name === this.cells.get(cell)?.host) ?? this.hosts[0]!;
  }

  private watchOf(cell: string): SocketWatch | null {
    return this.hostOf(cell)?.watch ?? this.watch;
  }

  /**
   * The pcap file tcpdump is writing now for the cell's host (refusal.ts reads it as a cell ends),
   * or null without one (or once it stopped: at its packet limit).
   */
  file(cell: string): string | null {
    const dump = this.hostOf(cell)?.dump ?? this.dump;
    return dump && !this.skipped && dump.proc.exitCode === null ? dump.file : null;
  }

  /** `streams`: the inodes of the cell's stdio sockets, where known (the spawner's), not to be looked up. */
  cellStarted(name: string, lang: string, pid: number | undefined, host: string | null = null, streams: string[] = []): void {
    // On a network, the host it ran on (the first for a cell without host=), for the diagram.
    const on = this.network ? (host ?? this.network.hosts[0]!.name) : undefined;
    this.cells.set(name, { name, lang, from: clockMs(), to: Infinity, ...(on ? { host: on } : {}) });
    if (pid !== undefined) this.watchOf(name)?.cellStarted(name, pid, streams);
  }

  /**
   * A cell whose runtime names its own sockets (Python, C: cells/python, cells/lectern_rt.c)
   * opened one: it is that cell's from now on, even if it closes before the next look at the tables.
   */
  claim(cell: string, proto: "tcp" | "udp", local: string): void {
    this.watchOf(cell)?.owners.push({ proto, local, listening: false, cell, at: clockMs() });
  }

  /** Before the cell's leftover processes are swept: their sockets are looked at once more. */
  cellEnded(name: string): void {
    const c = this.cells.get(name);
    if (c) c.to = clockMs();
    this.watchOf(name)?.cellEnding(name);
  }

  private stopped: Promise<CaptureInfo> | null = null;

  /** Stops tcpdump once the file has stopped growing, and keeps the file; the same answer each call. Never throws. */
  stop(): Promise<CaptureInfo> {
    return (this.stopped ??= this.finish());
  }

  private async finish(): Promise<CaptureInfo> {
    this.watch?.stop();
    for (const h of this.hosts) h.watch.stop();
    const info = (path: string | null): CaptureInfo => ({
      path,
      skipped: this.skipped,
      offset: this.offset,
      clock0: this.clock0,
      ranAt: this.ranAt,
      owners: this.hosts.length > 0 ? this.hosts.flatMap((h) => h.watch.owners) : (this.watch?.owners ?? []),
      cells: [...this.cells.values()].map((c) => ({ ...c, to: Number.isFinite(c.to) ? c.to : clockMs() })),
      ...(this.network ? { network: this.network } : {}),
    });
    const dumps = this.hosts.length > 0 ? this.hosts.map((h) => h.dump) : this.dump ? [this.dump] : [];
    if (dumps.length === 0 || this.skipped) return info(null);
    await Promise.all(dumps.map(stopDump));
    for (const dump of dumps) {
      const stderr = dump.stderr();
      if (/(\d+) packets? captured/.exec(stderr)?.[1] === String(MAX_PACKETS)) {
        this.skipped = `the capture stopped at ${MAX_PACKETS.toLocaleString("en")} packets; later ones are not shown`;
      }
      const dropped = Number(/(\d+) packets? dropped by kernel/.exec(stderr)?.[1] ?? 0);
      if (dropped > 0) this.skipped = `${dropped} packets were dropped by the kernel before tcpdump read them`;
    }
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      // From the temporary folder, where tcpdump started before the page was known; a network's
      // hosts' captures as one file.
      if (this.hosts.length > 0) await mergeCaptures(dumps.map((d) => d.file), this.path);
      else await moveFile(dumps[0]!.file, this.path);
      // What names the packets' ends, beside them: a later build from the cache draws them too.
      const kept = info(this.path);
      writeFileSync(`${this.path}.json.partial`, JSON.stringify(kept));
      renameSync(`${this.path}.json.partial`, `${this.path}.json`);
      return kept;
    } catch (err) {
      this.skipped = `the capture file could not be kept: ${(err as Error).message}`;
      return info(null);
    } finally {
      for (const dump of dumps) dump.discard();
    }
  }
}

/**
 * The last cell's last packets may still be on their way through the kernel's ring to tcpdump:
 * waits until its file has not grown for two looks (at most 300 ms), then stops it.
 */
async function stopDump(dump: Tcpdump): Promise<void> {
  const { proc, file } = dump;
  const sizeNow = () => {
    try {
      return statSync(file).size;
    } catch {
      return -2; // gone: nothing to wait for
    }
  };
  // Its size now, then every 5 ms: two looks the same (10 ms without a packet) and it is stopped.
  let size = sizeNow();
  for (let quiet = 0, i = 0; quiet < 2 && i < 30 && proc.exitCode === null; i++) {
    await new Promise((r) => setTimeout(r, 5));
    const now = sizeNow();
    quiet = now === size ? quiet + 1 : 0;
    size = now;
  }
  const exited = new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once("exit", () => r())));
  proc.kill("SIGINT");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 2000);
  await exited;
  clearTimeout(timer);
}

/** Renames, or copies then renames where `from` is on another file system; `to` is never half-written. */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    await copyFile(from, `${to}.partial`);
    renameSync(`${to}.partial`, to);
  }
}

/** Whether `tcpdump -r` reads a file (for tests and checks). */
export function tcpdumpReads(path: string): { ok: boolean; lines: string[] } {
  const bin = findTcpdump();
  if (!bin) return { ok: false, lines: [] };
  const r = spawnSync(bin, ["-r", path, "-n", "-tt"], { encoding: "utf8" });
  return { ok: r.status === 0, lines: r.stdout.split("\n").filter(Boolean) };
}

/** The pcap file's global header: a file no longer than this holds no packet. */
const PCAP_HEADER = 24;

/** Puts a page run's capture beside the page in the site, as `name`; the name, or null without one. */
export async function copyCapture(result: { capture?: string | null } | null, outDir: string, name: string, written: string[]): Promise<string | null> {
  if (!result?.capture) return null;
  let bytes: Buffer;
  try {
    bytes = await readFile(result.capture);
  } catch {
    return null; // the cache was cleared since: the page says it has no capture link
  }
  // A run that put no packet on the wire (a file of the pcap header alone) has nothing to open.
  if (bytes.length <= PCAP_HEADER) return null;
  // One that is there already, byte for byte, is not written again (nor counted as written).
  const out = join(outDir, name);
  const old = await readFile(out).catch(() => null);
  if (old && old.equals(bytes)) return name;
  await writeAtomic(out, bytes);
  written.push(out);
  return name;
}

/**
 * The capture of a page's last run, if the cells of that run are still the ones in `cells`
 * (their results carry the run's start): a build from the cache draws the wire too.
 */
export function storedCapture(cacheDir: string, page: string, cells: { name: string; ranAt?: string }[]): CaptureInfo | null {
  let info: CaptureInfo | null;
  try {
    info = validCapture(JSON.parse(readFileSync(`${capturePath(cacheDir, page)}.json`, "utf8")));
  } catch {
    return null;
  }
  if (!info) return null;
  const ranAt = new Map(cells.map((c) => [c.name, c.ranAt]));
  return info.cells.length > 0 && info.cells.every((c) => ranAt.get(c.name) === info.ranAt) && existsSync(info.path ?? "") ? info : null;
}
