// A network on the page (issue 22): hosts as network namespaces, links with loss and rate, a
// router between two subnets, the capture on every host, and clean-up after kill -9, through the
// real command as a user meets it.
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lectern } from "./command.ts";
import { tmp } from "./helpers.ts";
import { BIN } from "./command.ts";

const ROOTED = process.getuid?.() === 0;
const net = (lines: string) => "```network\n" + lines.trim() + "\n```\n\n";
const cell = (info: string, code: string) => "```" + info + "\n" + code.trim() + "\n```\n\n";

type Cell = { name: string; status: string; output: string; reason: string | null };
type Event = { cell: string; kind: string; local: string | null; remote: string | null; lost?: string; retransmit?: true; delay?: number; preview?: string };
type Page = { cells: Cell[]; trace: Event[]; capture: string | null; captureSkipped: string | null };

async function runPage(source: string, args: string[] = []): Promise<{ code: number; page: Page; stderr: string; dir: string }> {
  const dir = tmp("lectern-net-");
  writeFileSync(join(dir, "page.md"), source);
  const r = await lectern(["run", "page.md", "--json", ...args], dir);
  const page = r.stdout ? (JSON.parse(r.stdout) as { pages: Page[] }).pages[0]! : (null as unknown as Page);
  return { code: r.code, page, stderr: r.stderr, dir };
}
const byName = (page: Page, name: string) => page.cells.find((c) => c.name === name)!;

const UDP_SERVER = cell(
  "ts name=udp-server server host=server",
  `
import dgram from "node:dgram";
import { port } from "lectern";
const s = dgram.createSocket("udp4");
s.on("message", (m, from) => {
  console.log(\`\${m} from \${from.address}\`);
  s.send(String(m).toUpperCase(), from.port, from.address);
});
s.bind(port("udp"));
`,
);

describe("a network on the page", () => {
  it("runs each cell on its host, with the host's own address, and captures every link", async () => {
    const source =
      net("host client server\nlink client server") +
      UDP_SERVER +
      cell(
        "python name=py-client host=client",
        `
import socket
from lectern import host, port
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"hello", (host("server"), port("udp")))
print(s.recvfrom(100)[0].decode(), "from", host("server"))
`,
      );
    const { code, page } = await runPage(source);
    expect(code).toBe(0);
    expect(byName(page, "py-client").output).toBe("HELLO from 10.0.1.2\n");
    expect(byName(page, "udp-server").output).toBe("hello from 10.0.1.1\n");
    // Each datagram once, as sent, though both hosts captured it.
    const sends = page.trace.filter((e) => e.kind === "send");
    expect(sends.map((e) => `${e.cell} ${e.local?.split(":")[0]} > ${e.remote?.split(":")[0]} ${e.preview}`)).toEqual(["py-client 10.0.1.1 > 10.0.1.2 hello", "udp-server 10.0.1.2 > 10.0.1.1 HELLO"]);
    expect(page.captureSkipped).toBeNull();
    // The pcap holds each host's view: both ends of the link saw the datagram.
    const dump = execFileSync("tcpdump", ["-r", page.capture!, "-n"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    expect(dump.split("\n").filter((l) => /10\.0\.1\.1\.\d+ > 10\.0\.1\.2\.\d+: UDP, length 5/.test(l)).length).toBe(2);
  }, 30_000);

  it("loses datagrams on a lossy link while TCP gets every line through, and the trace shows where", async () => {
    const source =
      net("host client server\nlink client server loss=30%") +
      UDP_SERVER +
      cell(
        "ts name=udp-client host=client",
        `
import dgram from "node:dgram";
import { host, port } from "lectern";
const c = dgram.createSocket("udp4");
let replies = 0;
c.on("message", () => replies++);
for (let i = 0; i < 40; i++) c.send(\`ping \${i}\`, port("udp"), host("server"));
setTimeout(() => { console.log(replies < 40 ? "some replies lost" : "all 40 replies"); c.close(); }, 1000);
`,
      ) +
      cell(
        "ts name=tcp-server server host=server",
        `
import net from "node:net";
import { port } from "lectern";
net.createServer((s) => s.pipe(s)).listen(port("tcp"));
`,
      ) +
      cell(
        "ts name=tcp-client host=client timeout=60",
        `
import net from "node:net";
import { host, port } from "lectern";
const c = net.connect(port("tcp"), host("server"));
let got = "";
c.on("data", (d) => { got += d; if (got.split("\\n").length > 10) c.end(); });
c.on("close", () => console.log(got.split("\\n").filter(Boolean).length, "lines back"));
for (let i = 0; i < 10; i++) c.write(\`line \${i}\\n\`);
`,
      );
    const { code, page } = await runPage(source);
    expect(code).toBe(0);
    expect(byName(page, "udp-client").output).toBe("some replies lost\n");
    expect(byName(page, "tcp-client").output).toBe("10 lines back\n");
    const lost = page.trace.filter((e) => e.lost);
    expect(lost.length).toBeGreaterThan(0);
    expect(new Set(lost.map((e) => e.lost))).toEqual(new Set(["client–server"]));
    // A datagram seen lost was never printed by the server.
    const server = byName(page, "udp-server").output;
    for (const e of lost.filter((x) => x.cell === "udp-client")) expect(server).not.toContain(`${e.preview} from`);
  }, 90_000);

  it("delays a link: a round trip takes twice its delay, and the trace says how long each packet took", async () => {
    const source =
      net("host client server\nlink client server delay=50ms") +
      UDP_SERVER +
      cell(
        "ts name=pinger host=client",
        `
import dgram from "node:dgram";
import { once } from "node:events";
import { host, port } from "lectern";
const c = dgram.createSocket("udp4");
const start = performance.now();
c.send("ping", port("udp"), host("server"));
await once(c, "message");
console.log(\`at least 100 ms: \${performance.now() - start >= 100}\`);
c.close();
`,
      );
    const { code, page } = await runPage(source);
    expect(code).toBe(0);
    expect(byName(page, "pinger").output).toBe("at least 100 ms: true\n");
    const sends = page.trace.filter((e) => e.kind === "send");
    expect(sends).toHaveLength(2);
    for (const e of sends) expect(e.delay).toBeGreaterThanOrEqual(50);
  }, 30_000);

  it("builds three network pages in one process, the later ones on hosts made while the page before ran", async () => {
    const dir = tmp("lectern-net-");
    // One page at a time: from the second on, the next page's hosts are made while one runs.
    for (const n of [1, 2, 3]) writeFileSync(join(dir, `p${n}.md`), net("host client server\nlink client server") + UDP_SERVER + cell(
      "python name=py-client host=client",
      `
import socket
from lectern import host, port
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"page ${n}", (host("server"), port("udp")))
print(s.recvfrom(100)[0].decode())
`,
    ));
    const r = await lectern(["build", ".", "--jobs", "1", "--json", "--out", "site"], dir);
    expect(r.code).toBe(0);
    const pages = (JSON.parse(r.stdout) as { pages: (Page & { path: string })[] }).pages;
    for (const [i, page] of pages.entries()) {
      expect(byName(page, "udp-server").output).toBe(`page ${i + 1} from 10.0.1.1\n`);
      expect(byName(page, "py-client").output).toBe(`PAGE ${i + 1}\n`);
      // Each page's capture is its own: its datagram, seen on both ends of its link, and no other page's.
      const dump = execFileSync("tcpdump", ["-r", join(dir, "site", `p${i + 1}.pcap`), "-n", "-A"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      expect(dump.match(/page \d/g)).toEqual([`page ${i + 1}`, `page ${i + 1}`]);
    }
  }, 60_000);

  it("routes between two subnets through a router, and draws each packet once", async () => {
    const source =
      net("host client server\nrouter r\nlink client r\nlink r server") +
      UDP_SERVER +
      cell(
        "sh name=client host=client",
        `
echo "via $LECTERN_HOST_R" 
printf 'hi' | nc -u -W1 -w5 "$LECTERN_HOST_SERVER" "$LECTERN_PORT_UDP"; echo
`,
      );
    const { code, page } = await runPage(source);
    expect(code).toBe(0);
    expect(byName(page, "client").output).toBe("via 10.0.1.2\nHI\n");
    expect(byName(page, "udp-server").output).toBe("hi from 10.0.1.1\n");
    const sends = page.trace.filter((e) => e.kind === "send").map((e) => `${e.local?.split(":")[0]} > ${e.remote?.split(":")[0]}`);
    expect(sends).toEqual(["10.0.1.1 > 10.0.2.2", "10.0.2.2 > 10.0.1.1"]);
  }, 30_000);

  it("passes expect=ECONNREFUSED on another host only with the refusal on the wire", async () => {
    const source =
      net("host client server\nlink client server") +
      cell(
        "python name=refused host=client expect=ECONNREFUSED",
        `
import socket
from lectern import host, port
socket.create_connection((host("server"), port("nobody")), timeout=5)
`,
      );
    const { code, page } = await runPage(source);
    expect(code).toBe(0);
    expect(byName(page, "refused").status).toBe("passed");
    const rst = page.trace.find((e) => e.kind === "rst");
    expect(rst?.local?.split(":")[0]).toBe("10.0.1.2");
  }, 30_000);

  it("names an unknown host at its line, with exit status 2", async () => {
    // Four pages at once: each is refused before anything runs.
    const [bad, attr, call, prop] = await Promise.all([
      runPage(net("host client server\nlink client sever") + UDP_SERVER),
      runPage(net("host a b\nlink a b") + UDP_SERVER),
      runPage(net("host client server\nlink client server") + cell("ts name=c host=client", 'import { host } from "lectern";\n\nconsole.log(host("servr"));')),
      runPage(net("host a b\nlink a b delay=fast")),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('page.md:3: link names host "sever", which is not declared above it (hosts: client, server)');
    expect(attr.code).toBe(2);
    expect(attr.stderr).toContain('cell "udp-server" runs on host "server", which this page\'s network does not have (its hosts: a, b)');
    expect(call.code).toBe(2);
    expect(call.stderr).toContain('page.md:9: cell "c" asks for host "servr"');
    expect(prop.code).toBe(2);
    expect(prop.stderr).toContain("page.md:3: delay=fast: a delay is a duration such as 20ms or 1s");
  }, 30_000);

  it("skips the page's cells, saying why, where its network cannot be made", async () => {
    const { code, page } = await runPage(net("host client server\nlink client server") + UDP_SERVER, ["--allow-net=localhost"]);
    expect(code).toBe(0);
    expect(byName(page, "udp-server")).toMatchObject({ status: "skipped", reason: "not run: --allow-net and pinned ports run cells in the machine's own network, not on this page's hosts" });
  }, 30_000);

  it.runIf(ROOTED)("shapes each end of a link with the kernel's tbf and nftables, as tc and nft list them", async () => {
    const dir = tmp("lectern-net-");
    writeFileSync(join(dir, "page.md"), net("host a b\nrouter r\nlink a r loss=12.5%\nlink r b rate=1mbit") + cell("sh name=c host=a", "sleep 3600"));
    const child = spawn(process.execPath, [BIN, "run", "page.md"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    try {
      for (let i = 0; i < 200 && !out.includes("c started"); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain("c started");
      // One process of each host's namespace, and what the real tools say is there.
      const own = readlinkSync(`/proc/${child.pid}/ns/net`);
      const hosts = new Map([...descendants(child.pid!)].map((pid) => [netnsOf(pid), pid] as const).filter(([n]) => n && n !== own));
      const said = [...hosts.values()].flatMap((pid) => {
        const inside = (...argv: string[]) => execFileSync("nsenter", [`--net=/proc/${pid}/ns/net`, ...argv], { encoding: "utf8" }).split("\n");
        return [
          ...inside("nft", "list", "ruleset").filter((l) => /hook egress|numgen/.test(l)),
          ...inside("tc", "qdisc", "show").filter((l) => l.includes(" tbf ")).map((l) => l.replace(/tbf \w+: dev (\S+) root refcnt \d+/, "tbf on $1")),
          ...inside("ip", "route", "show").filter((l) => l.includes(" via ")),
        ].map((l) => l.trim());
      });
      expect(said.sort()).toEqual([
        "10.0.1.0/24 via 10.0.2.1 dev b2-r",
        "10.0.2.0/24 via 10.0.1.2 dev a1-r",
        'meta protocol ip numgen random mod 10000 < 1250 dup to "drop1" drop',
        'meta protocol ip numgen random mod 10000 < 1250 dup to "drop1" drop',
        'meta protocol ip6 numgen random mod 10000 < 1250 dup to "drop1" drop',
        'meta protocol ip6 numgen random mod 10000 < 1250 dup to "drop1" drop',
        "qdisc tbf on a2-b rate 1Mbit burst 3200b lat 200ms",
        "qdisc tbf on b2-r rate 1Mbit burst 3200b lat 200ms",
        'type filter hook egress device "a1-r" priority filter; policy accept;',
        'type filter hook egress device "b1-a" priority filter; policy accept;',
      ]);
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("close", r));
    }
  }, 30_000);

  it.runIf(ROOTED)("leaves no namespace, holder, tcpdump or cell behind when Lectern is killed with SIGKILL", async () => {
    const dir = tmp("lectern-net-");
    const marker = `netkill${process.pid}`;
    writeFileSync(join(dir, "page.md"), net("host a b\nrouter r\nlink a r loss=10%\nlink r b rate=1mbit") + cell(`sh name=s server host=b`, `exec sleep 3600 # ${marker}`) + cell("sh name=c host=a", `sleep 3600 # ${marker}`));
    const child = spawn(process.execPath, [BIN, "run", "page.md"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    for (let i = 0; i < 200 && !out.includes("c started"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain("c started");
    // The hosts' namespaces: those of Lectern's children (holders, tcpdumps, cells) but its own.
    const own = readlinkSync(`/proc/${child.pid}/ns/net`);
    const made = new Set([...descendants(child.pid!)].map((pid) => netnsOf(pid)).filter((n) => n && n !== own));
    expect(made.size).toBe(3);
    const helpers = [...descendants(child.pid!)];
    child.kill("SIGKILL");
    let left: string[] = [];
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = [...processesMentioning([marker, dir]), ...helpers.filter((pid) => netnsOf(pid) !== null).map(String)];
      if (left.length === 0 && ![...namespaces()].some((n) => made.has(n))) break;
    }
    expect(left).toEqual([]);
    expect([...namespaces()].filter((n) => made.has(n))).toEqual([]);
  }, 30_000);
});

function netnsOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

/** Every process under `root`, from the parent links in /proc. */
function descendants(root: number): Set<number> {
  const parent = new Map<number, number>();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      parent.set(Number(pid), Number(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]));
    } catch {
      // Gone.
    }
  }
  const out = new Set<number>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) if ((ppid === root || out.has(ppid)) && !out.has(pid)) (out.add(pid), (grew = true));
  }
  return out;
}

/** The network namespaces some process is in. */
function namespaces(): Set<string> {
  const out = new Set<string>();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      out.add(readlinkSync(`/proc/${pid}/ns/net`));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}

/** Processes whose command line mentions any of `words` (tcpdump's names the capture's folder). */
function processesMentioning(words: string[]): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (words.some((w) => cmd.includes(w)) && !cmd.includes("vitest")) out.push(`${pid} ${cmd}`);
    } catch {
      // Gone.
    }
  }
  return out;
}
