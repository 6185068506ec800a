import dgram from "node:dgram";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import net from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { claim, PortSet } from "../runner/plan/ports.ts";
import { tmp } from "./helpers.ts";

const bindUdp = (port: number) =>
  new Promise<string | null>((resolve) => {
    const s = dgram.createSocket("udp4");
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    s.bind(port, "127.0.0.1", () => s.close(() => resolve(null)));
  });

const listenTcp = (port: number) =>
  new Promise<string | null>((resolve) => {
    const s = net.createServer();
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(null)));
  });

const connect = (port: number) =>
  new Promise<string | null>((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(null);
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
  });

describe("PortSet", () => {
  it("gives each name one distinct number, held for its server until handed over", async () => {
    const lockDir = tmp();
    const set = await PortSet.allocate(["udp", "tcp", "nobody"], new Set(["udp", "tcp"]), { lockDir });
    const n = set.numbers();
    expect(new Set(Object.values(n)).size).toBe(3);
    // Held: nobody else can bind it, for UDP or TCP.
    expect(await bindUdp(n.udp!)).toBe("EADDRINUSE");
    expect(await listenTcp(n.tcp!)).toBe("EADDRINUSE");
    // Not served: released at once, so a client finds nobody listening.
    expect(await connect(n.nobody!)).toBe("ECONNREFUSED");
    await set.handOver("udp");
    expect(await bindUdp(n.udp!)).toBeNull();
    await set.close();
    expect(await listenTcp(n.tcp!)).toBeNull();
  });

  it("uses a pinned number as given", async () => {
    const set = await PortSet.allocate(["udp"], new Set(), { pinned: { udp: 40999 }, lockDir: tmp() });
    expect(set.numbers()).toEqual({ udp: 40999 });
    await set.close();
  });

  it("never hands two sets the same number while both are alive, even after hand-over", async () => {
    const lockDir = join(tmp(), "locks");
    mkdirSync(lockDir);
    const sets: PortSet[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const set = await PortSet.allocate(["a", "b"], new Set(["a", "b"]), { lockDir });
      // Released sockets: only the lock files keep the numbers apart now.
      await set.handOver("a");
      await set.handOver("b");
      for (const port of Object.values(set.numbers())) {
        expect(seen.has(port)).toBe(false);
        seen.add(port);
      }
      sets.push(set);
    }
    for (const set of sets) await set.close();
  });
});

describe("claim", () => {
  it("respects a number claimed by a live process and takes over one whose owner died", () => {
    const dir = tmp();
    writeFileSync(join(dir, "40001"), String(process.ppid));
    expect(claim(dir, 40001)).toBeNull();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeFileSync(join(dir, "40002"), dead);
    expect(claim(dir, 40002)).toBe(join(dir, "40002"));
    expect(readFileSync(join(dir, "40002"), "utf8")).toBe(String(process.pid));
    expect(claim(dir, 40003)).toBe(join(dir, "40003"));
    expect(claim(dir, 40003)).toBeNull();
  });
});
