// The baseline for the concurrency bench: the same compiled programs run with plain `node`, at
// most JOBS at a time, by the smallest orchestrator that does the job. Plain JavaScript, so its
// own start-up costs what a `node` start costs, as Lectern's start-up is counted against it.
//   node orchestrate.mjs SPEC.json
// SPEC: { jobs, cells: [file], pairs: [{ server, client, port }] }: a pair's server starts, the
// client runs once the server's port accepts a connection (polled), then the server is killed.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

let active = 0;
const queue = [];
async function slot(fn) {
  if (active >= spec.jobs) await new Promise((r) => queue.push(r));
  active++;
  try {
    return await fn();
  } finally {
    active--;
    queue.shift()?.();
  }
}

function run(file, extra) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { env: { ...env, ...extra }, stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.resume();
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited with ${code}`))));
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function listening(port, until) {
  while (Date.now() < until) {
    const up = await new Promise((r) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), r(true)));
      s.once("error", () => r(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`nothing listened on ${port}`);
}

async function pair({ server, client, port: name }) {
  const port = await freePort();
  const extra = { [`LECTERN_PORT_${name.toUpperCase()}`]: String(port) };
  // Servers take no slot, as in Lectern: only the clients are bounded.
  const proc = spawn(process.execPath, [server], { env: { ...env, ...extra }, stdio: ["ignore", "ignore", "inherit"] });
  try {
    await listening(port, Date.now() + 10_000);
    await slot(() => run(client, extra));
  } finally {
    proc.kill("SIGTERM");
  }
}

await Promise.all([...(spec.cells ?? []).map((file) => slot(() => run(file, {}))), ...(spec.pairs ?? []).map(pair)]);
