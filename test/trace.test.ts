import { execFile } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { traceDiagram } from "../runner/trace/diagram.ts";
import { extractPage } from "../runner/extract/extract.ts";
import { renderPage } from "../runner/render/render.ts";
import { eventsOf, matchMessages, pageTrace, textTimeline, traceGroups, traceOf } from "../runner/trace/trace.ts";
import { tcpdumpReads } from "../runner/trace/capture.ts";
import { readPcap } from "../runner/trace/pcap.ts";
import { wireTrace } from "../runner/trace/wiretrace.ts";
import type { CellResult, TraceEvent } from "../runner/types.ts";
import { cacheDir, cell, runSource } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FIXTURES = join(ROOT, "test", "fixtures", "trace");

interface JsonPage {
  ports: Record<string, number>;
  trace: TraceEvent[];
  capture: string | null;
  captureSkipped: string | null;
}

/** A lecture's cells run by `lectern run --json`; `extra` flags (--allow-net: no namespace, so the cells' own socket trace). */
function runLecture(cells: string[], extra: string[] = ["--allow-net=127.0.0.1"]): Promise<JsonPage> {
  const args = [join(ROOT, "runner", "bin.mjs"), "run", "notebook/lec3-socket-programming.md", "--json", "--cache", cacheDir, ...extra, ...cells.flatMap((c) => ["--cell", c])];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { cwd: ROOT, timeout: 60_000 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout).pages[0]))),
  );
}

/** Each cell's events in its own order, times dropped, port numbers named by the page or numbered by first sight. */
function normalised(trace: TraceEvent[], ports: Record<string, number>): Record<string, string[]> {
  const names = new Map(Object.entries(ports).map(([k, v]) => [String(v), `{${k}}`]));
  const port = (p: string) => names.get(p) ?? names.set(p, `{p${names.size - Object.keys(ports).length + 1}}`).get(p)!;
  const addr = (a: string | null) => (a === null ? "-" : a.replace(/:(\d+)$/, (_, p: string) => `:${port(p)}`));
  const out: Record<string, string[]> = {};
  for (const e of trace) {
    const data = e.bytes !== undefined ? ` ${e.bytes} ${JSON.stringify(e.preview)}` : "";
    (out[e.cell] ??= []).push(`${e.proto} ${e.kind} ${addr(e.local)} ${addr(e.remote)}${data}${e.code ? ` ${e.code}` : ""}`);
  }
  return out;
}

describe("the socket trace (no namespace: the fallback)", () => {
  it("says there is no capture, and why", async () => {
    const page = await runLecture(["udp-client"]);
    expect(page.capture).toBeNull();
    expect(page.captureSkipped).toBe("the cells did not run in a network namespace of their own (--allow-net, a pinned port, or a machine without namespaces), so the trace is what their Node.js sockets reported");
    expect(page.trace.every((e) => !e.wire)).toBe(true);
  }, 60_000);

  it("records the UDP pair: the OS's port for the client, the server learning it from the datagram", async () => {
    const { ports, trace } = await runLecture(["udp-client"]);
    expect(normalised(trace, ports)).toEqual({
      "udp-server": [
        "udp bind 127.0.0.1:{udp} -",
        'udp recv 127.0.0.1:{udp} 127.0.0.1:{p1} 25 "hello from the udp client"',
        'udp send 127.0.0.1:{udp} 127.0.0.1:{p1} 25 "HELLO FROM THE UDP CLIENT"',
      ],
      "udp-client": [
        "udp bind 0.0.0.0:{p1} -",
        'udp send 0.0.0.0:{p1} 127.0.0.1:{udp} 25 "hello from the udp client"',
        'udp recv 0.0.0.0:{p1} 127.0.0.1:{udp} 25 "HELLO FROM THE UDP CLIENT"',
        "udp close 0.0.0.0:{p1} -",
      ],
    });
    const messages = matchMessages(trace);
    expect(messages.map((m) => [m.send?.cell, m.recv?.cell])).toEqual([
      ["udp-client", "udp-server"],
      ["udp-server", "udp-client"],
    ]);
  }, 60_000);

  it("records the TCP pair: the connection socket has the welcome socket's port, told apart by the client's", async () => {
    const { ports, trace } = await runLecture(["tcp-client"]);
    const n = normalised(trace, ports);
    expect(n["tcp-client"]).toEqual([
      "tcp connect 127.0.0.1:{p1} 127.0.0.1:{tcp}",
      'tcp send 127.0.0.1:{p1} 127.0.0.1:{tcp} 10 "hello tcp\\\\n"',
      'tcp recv 127.0.0.1:{p1} 127.0.0.1:{tcp} 10 "HELLO TCP\\\\n"',
      'tcp send 127.0.0.1:{p1} 127.0.0.1:{tcp} 37 "second line over the same connection\\\\n"',
      'tcp recv 127.0.0.1:{p1} 127.0.0.1:{tcp} 37 "SECOND LINE OVER THE SAME CONNECTION\\\\n"',
      "tcp end 127.0.0.1:{p1} 127.0.0.1:{tcp}",
      "tcp close 127.0.0.1:{p1} 127.0.0.1:{tcp}",
    ]);
    expect(n["tcp-server"]!.slice(0, 2)).toEqual(["tcp listen 127.0.0.1:{tcp} -", "tcp accept 127.0.0.1:{tcp} 127.0.0.1:{p1}"]);
    expect(n["tcp-server"]).toContain('tcp recv 127.0.0.1:{tcp} 127.0.0.1:{p1} 10 "hello tcp\\\\n"');
    // The teardown: the client's FIN, the server's answering FIN (Node ends a socket whose peer
    // ended), then both close; each FIN is recorded as it is sent.
    expect(n["tcp-server"]!.slice(-2)).toEqual(["tcp end 127.0.0.1:{tcp} 127.0.0.1:{p1}", "tcp close 127.0.0.1:{tcp} 127.0.0.1:{p1}"]);
    const fins = trace.filter((e) => e.kind === "end").map((e) => e.cell);
    expect(fins).toEqual(["tcp-client", "tcp-server"]);
    // The client's port as the client saw it is the port the server accepted.
    const connect = trace.find((e) => e.kind === "connect")!;
    const accept = trace.find((e) => e.kind === "accept")!;
    expect(accept.remote).toBe(connect.local);
    expect(accept.local).toBe(trace.find((e) => e.kind === "listen")!.local);
  }, 60_000);

  it("records a refused connection as an error towards the port nobody listens on", async () => {
    const { ports, trace } = await runLecture(["refused"]);
    expect(normalised(trace, ports)["refused"]).toEqual(["tcp error - 127.0.0.1:{nobody} ECONNREFUSED"]);
  }, 60_000);

  it("records each datagram as it goes out, however send() was called, and the program sees no difference", async () => {
    const code = `import dgram from "node:dgram";
import { once } from "node:events";
const rx = dgram.createSocket("udp4");
rx.bind(0, "127.0.0.1");
await once(rx, "listening");
const port = rx.address().port;
const got: string[] = [];
rx.on("message", (m) => got.push(m.toString()));
const tx = dgram.createSocket("udp4");
// One at a time, each after the last one's callback: a host name takes a lookup.
await new Promise((done) => tx.send("one", port, "127.0.0.1", done));
await new Promise((done) => tx.send(Buffer.from("xtwox"), 1, 3, port, "localhost", done));
await new Promise((done) => tx.send([Buffer.from("thr"), Buffer.from("ee")], port, done));
const c = dgram.createSocket("udp4");
c.connect(port, "127.0.0.1");
await once(c, "connect");
await new Promise((done) => c.send(new Uint8Array([0x66, 0x6f, 0x75, 0x72, 0x0a]), done));
for (let i = 0; i < 100 && got.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
console.log(JSON.stringify(got), rx.emit.length, tx.send.length);
rx.close(); tx.close(); c.close();`;
    const r = await runSource("```ts name=shapes\n" + code + "\n```\n");
    expect(cell(r, "shapes").output).toBe('["one","two","three","four\\n"] 1 6\n');
    // The cell's own socket events (the page's trace is the wire's where there is a capture).
    const own = traceOf(cell(r, "shapes"));
    const rx = own.find((e) => e.kind === "bind")!.local!;
    const sends = own.filter((e) => e.kind === "send").map((e) => [e.remote, e.bytes, e.preview]);
    // A host name is recorded as the address it resolved to; no address means the loopback.
    expect(sends).toEqual([
      [rx, 3, "one"],
      [rx, 3, "two"],
      [rx, 5, "three"],
      [rx, 5, "four\\n"],
    ]);
    const recvs = own.filter((e) => e.kind === "recv").map((e) => [e.local, e.preview]);
    expect(recvs).toEqual([rx, rx, rx, rx].map((l, i) => [l, ["one", "two", "three", "four\\n"][i]]));
  }, 30_000);

  it("leaves out a Unix socket's traffic: it is no network", async () => {
    const code = `import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
const path = join(tmpdir(), "lectern-unix-" + process.pid);
const server = net.createServer((s) => s.on("data", (d) => s.end(String(d).toUpperCase())));
server.listen(path, () => {
  const c = net.connect(path);
  c.write("hello");
  c.on("data", (d) => { console.log(String(d)); server.close(); });
});`;
    const r = await runSource("```ts name=unix\n" + code + "\n```\n");
    expect(cell(r, "unix")).toMatchObject({ status: "passed", output: "HELLO\n" });
    expect(pageTrace(r)).toEqual([]);
  }, 30_000);

  it("ends the trace where a cell wrote into the trace file itself, and runs on", async () => {
    // The garbage goes in at once, the preload's records when its buffer is written out (at
    // exit): the trace ends before them, so it is empty.
    const code = `import dgram from "node:dgram";
import { writeSync } from "node:fs";
const s = dgram.createSocket("udp4");
s.bind(0, "127.0.0.1", () => {
  writeSync(4, "garbage, not a record");
  s.send("after", s.address().port, "127.0.0.1", () => s.close());
});
s.on("close", () => console.log("done"));`;
    const r = await runSource("```ts name=scribbler\n" + code + "\n```\n");
    expect(cell(r, "scribbler")).toMatchObject({ status: "passed", output: "done\n" });
    expect(traceOf(cell(r, "scribbler"))).toEqual([]);
    // The wire saw the datagram all the same.
    if (r.capture) expect(pageTrace(r).map((e) => [e.kind, e.preview])).toEqual([["send", "after"]]);
  }, 30_000);
});

const fixture: TraceEvent[] = JSON.parse(readFileSync(join(FIXTURES, "pair.json"), "utf8"));

describe("drawing it", () => {
  it("groups the cells that talked to each other", () => {
    expect(traceGroups(fixture, ["srv", "cli", "alone"])).toEqual([["srv", "cli"], ["alone"]]);
  });

  it("prints the timeline as text", () => {
    expect(textTimeline(fixture.slice(0, 4))).toBe(
      [
        "     1.0 ms  srv   tcp  listen 127.0.0.1:5000",
        "     5.0 ms  srv   tcp  accept 127.0.0.1:5000 ↔ 127.0.0.1:40000",
        "     5.2 ms  cli   tcp  connect 127.0.0.1:40000 ↔ 127.0.0.1:5000",
        '     6.0 ms  cli   tcp  send 127.0.0.1:40000 → 127.0.0.1:5000 6 B "hello\\n"',
        "",
      ].join("\n"),
    );
  });

  it("draws data sent before the accept to the connection socket, not the welcome socket", () => {
    const ev = (t: number, cell: string, kind: TraceEvent["kind"], local: string, remote: string | null, data?: string): TraceEvent => ({
      t,
      cell,
      proto: "tcp",
      kind,
      local,
      remote,
      ...(data === undefined ? {} : { bytes: data.length, preview: data }),
    });
    const [server, client] = ["127.0.0.1:5000", "127.0.0.1:40000"];
    const events = [
      ev(1, "srv", "listen", server, null),
      ev(2, "cli", "connect", client, server),
      ev(3, "cli", "send", client, server, "early"),
      ev(4, "cli", "end", client, server),
      ev(5, "srv", "accept", server, client),
      ev(6, "srv", "recv", server, client, "early"),
    ];
    const svg = traceDiagram(events, "t", ["srv", "cli"]);
    // Lifelines left to right: the welcome socket, the connection socket, the client's socket.
    const lifelines = [...svg.matchAll(/<line class="trace-life" x1="(\d+)"/g)].map((m) => Number(m[1]));
    expect([...svg.matchAll(/<text class="trace-note"[^>]*>([^<]*)</g)].map((m) => m[1])).toEqual(["welcome socket", "connection socket", "TCP socket"]);
    const arrow = (cls: string) => svg.match(new RegExp(`<line class="trace-msg trace-${cls}" x1="(\\d+)" y1="\\d+" x2="(\\d+)"`))!.slice(1).map(Number);
    // Arrowheads stop 4 px short of the lifeline they point at.
    expect(arrow("tcp")).toEqual([lifelines[2], lifelines[1]! + 4]);
    const fin = [...svg.matchAll(/<line class="trace-msg trace-control" x1="(\d+)" y1="\d+" x2="(\d+)"[^>]*\/>(?=<text[^>]*><title>FIN<)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(fin).toEqual([[lifelines[2], lifelines[1]! + 4]]);
  });

  it("draws a connect before its accept, whichever process reported first", () => {
    const [server, client] = ["127.0.0.1:5000", "127.0.0.1:40000"];
    const base = { proto: "tcp", bytes: undefined } as const;
    const svg = traceDiagram(
      [
        { ...base, t: 1, cell: "srv", kind: "listen", local: server, remote: null },
        { ...base, t: 2, cell: "srv", kind: "accept", local: server, remote: client },
        { ...base, t: 3, cell: "cli", kind: "connect", local: client, remote: server },
      ],
      "t",
      ["srv", "cli"],
    );
    const rowOf = (label: string) => Number(svg.match(new RegExp(`<line class="trace-msg trace-control" x1="\\d+" y1="(\\d+)"[^>]*/><text[^>]*><title>${label}`))![1]);
    expect(rowOf("connect")).toBeLessThan(rowOf("accept"));
    // The text version keeps the times in order.
    expect(svg.indexOf("2.0 ms  srv")).toBeLessThan(svg.indexOf("3.0 ms  cli"));

    // A client that connects again from the same port: each connect goes before its own accept.
    const again = traceDiagram(
      [
        { ...base, t: 1, cell: "srv", kind: "listen", local: server, remote: null },
        { ...base, t: 2, cell: "srv", kind: "accept", local: server, remote: client },
        { ...base, t: 3, cell: "cli", kind: "connect", local: client, remote: server },
        { ...base, t: 4, cell: "cli", kind: "close", local: client, remote: server },
        { ...base, t: 5, cell: "srv", kind: "accept", local: server, remote: client },
        { ...base, t: 6, cell: "cli", kind: "connect", local: client, remote: server },
      ],
      "t",
      ["srv", "cli"],
    );
    const rows = [...again.matchAll(/<line class="trace-msg trace-control" x1="\d+" y1="(\d+)"[^>]*\/><text[^>]*><title>(connect|accept)/g)].map((m) => [Number(m[1]), m[2]] as const);
    expect(rows.sort((a, b) => a[0] - b[0]).map((r) => r[1])).toEqual(["connect", "accept", "connect", "accept"]);
  });

  it("never draws events of different runs together, and says which cells it left out", () => {
    const source = "# Pair\n\n```ts name=srv server\nlisten()\n```\n\n```ts name=cli\nconnect()\n```\n\n```trace cells=srv,cli\n```\n";
    const page = extractPage("pair.md", source);
    const base = { line: 3, status: "passed" as const, exitCode: 0, signal: null, durationMs: 5, output: "", chunks: [], reason: null, errors: [], cached: true };
    const render = (srvRun: string, cliRun: string) => {
      // The server ran again for another client: a new port, which the cached client never saw.
      const srvPort = srvRun === cliRun ? 5000 : 6000;
      const srv: TraceEvent[] = [{ t: 1, cell: "srv", proto: "tcp", kind: "listen", local: `127.0.0.1:${srvPort}`, remote: null }];
      const cli: TraceEvent[] = [{ t: 2, cell: "cli", proto: "tcp", kind: "connect", local: "127.0.0.1:40000", remote: "127.0.0.1:5000" }];
      const cells: CellResult[] = [
        { ...base, name: "srv", trace: srv, ranAt: srvRun },
        { ...base, name: "cli", trace: cli, ranAt: cliRun },
      ];
      const result = { path: "pair.md", ports: {}, cells, trace: [...srv, ...cli], startedAt: srvRun, durationMs: 5 };
      return renderPage(page, result, { index: "index.html", assets: "assets/", siteTitle: "T", node: "v20", prev: null, next: null });
    };
    const together = render("2026-01-01T10:00:00.000Z", "2026-01-01T10:00:00.000Z");
    expect(together).toContain("Network trace: srv, cli");
    expect(together).not.toContain("Not drawn");

    const apart = render("2026-01-01T11:00:00.000Z", "2026-01-01T10:00:00.000Z");
    expect(apart).toContain("<title id=\"trace-1-t\">Network trace: srv</title>");
    expect(apart).not.toContain("127.0.0.1:40000");
    expect(apart).toContain("Not drawn with them: cli, whose result comes from an earlier run (cached).");
  });

  it("draws the golden SVG, with hostile payloads escaped", () => {
    const html = traceDiagram(fixture, "trace-1", ["srv", "cli", "alone"]);
    expect(html).not.toMatch(/<script|onload=/i);
    const golden = join(FIXTURES, "pair.html");
    if (process.env.UPDATE_GOLDEN && !process.env.CI) writeFileSync(golden, html);
    expect(existsSync(golden)).toBe(true);
    expect(html).toBe(readFileSync(golden, "utf8"));
  });
});

describe("the trace from the wire", () => {
  const WIRE_PAGE = join(FIXTURES, "wire.md");
  let page: JsonPage & { path: string };
  const run = () =>
    new Promise<JsonPage & { path: string }>((resolve, reject) =>
      execFile(process.execPath, [join(ROOT, "runner", "bin.mjs"), "run", WIRE_PAGE, "--json", "--cache", cacheDir], { cwd: ROOT, timeout: 60_000 }, (err, stdout) => {
        // The refused and EADDRINUSE cells fail as they are expected to: the run still exits 0.
        if (err) reject(err);
        else resolve(JSON.parse(stdout).pages[0]);
      }),
    );
  const of = (cell: string) => page.trace.filter((e) => e.cell === cell || e.from === cell || e.to === cell);
  /** Each TCP connection's wire events, by its client's address. */
  const connections = (events: TraceEvent[]) => {
    const byClient = new Map<string, TraceEvent[]>();
    for (const e of events.filter((e) => e.wire && e.proto === "tcp")) {
      const client = e.kind === "syn" ? e.local! : [...byClient.keys()].find((c) => c === e.local || c === e.remote);
      if (client) byClient.set(client, [...(byClient.get(client) ?? []), e]);
    }
    return [...byClient.values()];
  };

  // One run of the page for all the tests below (the trace of each scenario is read from it).
  beforeAll(async () => {
    page = await run();
  }, 90_000);

  it("captures the page's packets into a pcap that tcpdump reads", () => {
    expect(page.capture).toMatch(/captures\/wire-[0-9a-f]{10}\.pcap$/);
    expect(page.captureSkipped).toBeNull();
    const read = tcpdumpReads(page.capture!);
    expect(read.ok).toBe(true);
    const packets = readPcap(readFileSync(page.capture!));
    expect(packets.problem).toBeNull();
    expect(read.lines.length).toBe(packets.packets.length + packets.other);
    // Every handshake tcpdump prints is in the trace.
    expect(read.lines.filter((l) => l.includes("Flags [S],")).length).toBe(page.trace.filter((e) => e.kind === "syn").length);
  });

  it("draws every HTTP request reaching the server, each connection opened by the three-way handshake", () => {
    const conns = connections(of("fetcher"));
    expect(conns).toHaveLength(2);
    for (const c of conns) {
      expect(c.slice(0, 3).map((e) => `${e.kind} ${e.from}->${e.to}`)).toEqual(["syn fetcher->http-server", "syn-ack http-server->fetcher", "ack fetcher->http-server"]);
      const data = c.filter((e) => e.kind === "send");
      expect(data.map((e) => `${e.from}->${e.to} ${e.preview!.split("\\r")[0]}`)).toEqual([expect.stringMatching(/^fetcher->http-server GET \/(one|two) HTTP\/1\.1$/), "http-server->fetcher HTTP/1.1 200 OK"]);
      expect(c.filter((e) => e.kind === "fin")).toHaveLength(2);
    }
    // The server's accepts stay: what the program did, which no packet shows.
    expect(page.trace.filter((e) => e.cell === "http-server" && e.kind === "accept")).toHaveLength(2);
  });

  it("names a server on :: and its IPv4 client as one connection, plain IPv4", () => {
    const [c] = connections(of("v4-client"));
    expect(c!.map((e) => `${e.kind} ${e.from}->${e.to}`)).toContain("send v4-client->dual-server");
    const accept = page.trace.find((e) => e.cell === "dual-server" && e.kind === "accept")!;
    expect(accept.local).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(accept.remote).toBe(c![0]!.local);
  });

  it("draws a refused connection as SYN then RST, and a taken port as a failed bind on the cell's own socket", () => {
    expect(of("refused").map((e) => `${e.kind} ${e.from}->${e.to}`)).toEqual(["syn refused->", "rst ->refused"]);
    const busy = page.ports.busy;
    expect(of("second")).toEqual([{ t: expect.any(Number), cell: "second", proto: "tcp", kind: "error", local: `127.0.0.1:${busy}`, remote: null, code: "EADDRINUSE" }]);
  });

  it("draws a datagram sent where nobody listens, and the ICMP port unreachable that answers it", () => {
    expect(of("udp-nowhere").filter((e) => e.wire).map((e) => `${e.kind} ${e.from}->${e.to}`)).toEqual(["send udp-nowhere->", "unreachable ->udp-nowhere"]);
    expect(textTimeline(of("udp-nowhere"))).toMatch(/udp  ICMP port unreachable 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ \(from no cell's socket to udp-nowhere\)\n$/);
  });

  it("names the sockets of a shell cell's nc", () => {
    const [c] = connections(of("nc-client"));
    expect(c!.map((e) => `${e.kind} ${e.from}->${e.to}${e.preview ? ` ${e.preview}` : ""}`)).toEqual(
      expect.arrayContaining(["syn nc-client->echo", "send nc-client->echo hello from nc\\n", "send echo->nc-client HELLO FROM NC\\n"]),
    );
  });

  it("draws the golden diagrams of the recorded wire trace", () => {
    const events = join(FIXTURES, "wire.json");
    if (process.env.UPDATE_GOLDEN && !process.env.CI) {
      writeFileSync(events, JSON.stringify(stable(page.trace), null, 1) + "\n");
      copyFileSync(page.capture!, join(FIXTURES, "wire.pcap"));
    }
    const recorded: TraceEvent[] = JSON.parse(readFileSync(events, "utf8"));
    const order = ["http-server", "fetcher", "dual-server", "v4-client", "refused", "holder", "second", "echo", "nc-client", "udp-nowhere"];
    const source = { kind: "wire" as const, note: null, href: "wire.pcap" };
    const html = traceGroups(recorded, order)
      .map((g, i) => traceDiagram(eventsOf(recorded, g), `trace-${i + 1}`, order, source))
      .join("");
    expect(html).toContain('aria-describedby="trace-1-text"');
    const golden = join(FIXTURES, "wire.html");
    if (process.env.UPDATE_GOLDEN && !process.env.CI) writeFileSync(golden, html);
    expect(html).toBe(readFileSync(golden, "utf8"));
  });
});

/** Events with their ports and times made stable: ports numbered by first sight, times by position, dates blanked. */
function stable(events: TraceEvent[]): TraceEvent[] {
  const ports = new Map<string, number>();
  const port = (a: string | null) => a && a.replace(/:(\d+)$/, (_, p: string) => `:${ports.get(p) ?? ports.set(p, 40001 + ports.size).get(p)!}`);
  return events.map((e, i) => ({
    ...e,
    t: i + 1,
    local: port(e.local),
    remote: port(e.remote),
    ...(e.preview === undefined ? {} : { preview: e.preview.replace(/(Date: )[^\\]*/, "$1(a date)").replace(/(127\.0\.0\.1:)\d+/, "$1(port)") }),
  }));
}

describe("reading a capture", () => {
  const capture = (): Uint8Array => readFileSync(join(FIXTURES, "wire.pcap"));

  it("reads what it can of a capture cut short, and says so", () => {
    const whole = readPcap(capture());
    expect(whole.problem).toBeNull();
    const cut = readPcap(capture().subarray(0, capture().length - 7));
    expect(cut.problem).toBe("the capture is cut short (its last packet is incomplete)");
    expect(cut.packets).toHaveLength(whole.packets.length - 1);
    expect(readPcap(new Uint8Array(10)).problem).toBe("the capture is cut short in its header");
    expect(readPcap(Buffer.from("GIF89a, not a capture at all....")).problem).toBe("not a pcap file");
  });

  it("keeps at most the packets it is allowed, and counts the rest", () => {
    const r = readPcap(capture(), 5);
    expect(r.packets).toHaveLength(5);
    expect(r.overMax).toBe(readPcap(capture()).packets.length - 5);
  });

  it("turns a broken capture into a trace that says what is missing, never an error", () => {
    const info = { path: "/nonexistent.pcap", skipped: null, offset: 0, clock0: 0, ranAt: "", owners: [], cells: [] };
    expect(wireTrace([], info)).toEqual({ events: [], notes: [expect.stringMatching(/^the capture could not be read: ENOENT/)] });
    const cut = wireTrace([], info, capture().subarray(0, 30));
    expect(cut.notes).toEqual(["the capture is cut short (half a packet header at its end)"]);
  });
});
