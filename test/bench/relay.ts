// Relay: what one delayed link of a page's network costs to build and tear down (issue 22's
// budget is 50 ms a page run for a whole two-host network). Two namespaces are held for the
// whole part; each run starts a relay between them and stops it again. Made in place: B in the
// other namespace, both ends addressed and up by the relay itself. Moved: B beside A, then moved,
// addressed and set up with one `ip -batch` per namespace. The floor: one `nsenter true` into
// a namespace, the least any helper of a host costs.
//   npx tsx test/bench/relay.ts
import { execFile } from "node:child_process";
import { holdNamespace, type Holder } from "../../runner/execute/holder.ts";
import { startRelay, type InNet } from "../../runner/network/relay.ts";
import { RUNS, fmtMs, fmtRatio, interleave, log, median, standalone, type Row } from "./lib.ts";

const inNetOf =
  (holder: Holder): InNet =>
  (command, args) => ({ command: "nsenter", args: [`--net=/proc/${holder.pid}/ns/net`, "--", command, ...args] });

function run(inNet: InNet, command: string, args: string[], input = ""): Promise<void> {
  const wrapped = inNet(command, args);
  return new Promise((resolve, reject) => {
    const child = execFile(wrapped.command, wrapped.args, (err, _out, stderr) => (err ? reject(new Error(`${command}: ${stderr || err}`)) : resolve()));
    // A program that ended before reading says why in its exit, not as EPIPE here.
    child.stdin!.on("error", () => {});
    child.stdin!.end(input);
  });
}

export default async function relay(): Promise<Row[]> {
  log("\n## relay");
  if (process.getuid?.() !== 0) {
    log("skipped: the relay needs root here (/dev/net/tun is root's, and namespaces of one owner)");
    return [{ part: "relay", measure: "(skipped: not root)", value: "-" }];
  }
  const [one, two] = await Promise.all([holdNamespace(), holdNamespace()]);
  if (!one || !two) throw new Error("could not hold two network namespaces");
  let n = 0;
  // The made-in-place runs split in two: until the link is up, and from stop() to the devices gone.
  const ups: number[] = [];
  const downs: number[] = [];
  const made = async () => {
    const i = ++n;
    const t0 = performance.now();
    const r = await startRelay(inNetOf(one), 50, `ma${i}`, `mb${i}`, { peerNet: `/proc/${two.pid}/ns/net`, addresses: [`10.1.${i % 250}.1/24`, `10.1.${i % 250}.2/24`] });
    const t1 = performance.now();
    r.stop();
    await r.exited;
    ups.push(t1 - t0);
    downs.push(performance.now() - t1);
  };
  const moved = async () => {
    const i = ++n;
    const r = await startRelay(inNetOf(one), 50, `va${i}`, `vb${i}`);
    await run(inNetOf(one), "ip", ["-batch", "-"], `link set vb${i} netns /proc/${two.pid}/ns/net\nlink set va${i} addrgenmode none\naddr add 10.2.${i % 250}.1/24 dev va${i}\nlink set va${i} up\n`);
    await run(inNetOf(two), "ip", ["-batch", "-"], `link set vb${i} addrgenmode none\naddr add 10.2.${i % 250}.2/24 dev vb${i}\nlink set vb${i} up\n`);
    r.stop();
    await r.exited;
  };
  const floor = () => run(inNetOf(one), "true", []);
  try {
    const t = await interleave(RUNS, {
      "a delayed link made in place, up, then stopped": made,
      "a delayed link moved and set up with ip, then stopped": moved,
      "nsenter true (the floor of a helper in a namespace)": floor,
    });
    const m = t["a delayed link made in place, up, then stopped"]!.median;
    const v = t["a delayed link moved and set up with ip, then stopped"]!.median;
    const f = t["nsenter true (the floor of a helper in a namespace)"]!.median;
    const [up, down] = [median(ups.slice(1)), median(downs.slice(1))];
    log(`made in place: up in ${fmtMs(up)}, gone ${fmtMs(down)} after stop() (medians, warm-up left out)`);
    return [
      { part: "relay", measure: "a delayed link made in place by the relay, up, then stopped", value: fmtMs(m), ratio: `${fmtRatio(m / f)} nsenter true` },
      { part: "relay", measure: "  of which: until up", value: fmtMs(up), ratio: `${fmtRatio(up / f)} nsenter true` },
      { part: "relay", measure: "  of which: from stop() to its devices gone", value: fmtMs(down), ratio: `${fmtRatio(down / f)} nsenter true` },
      { part: "relay", measure: "a delayed link moved and set up with ip, then stopped", value: fmtMs(v), ratio: `${fmtRatio(v / f)} nsenter true` },
      { part: "relay", measure: "nsenter true", value: fmtMs(f), ratio: "1.00x" },
    ];
  } finally {
    one.kill();
    two.kill();
  }
}

await standalone(import.meta.url, relay);
