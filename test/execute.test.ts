import { describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LecternError } from "../runner/errors.ts";
import { executePlan } from "../runner/execute/execute.ts";
import { extractPage } from "../runner/extract/extract.ts";
import { createLimiter } from "../runner/execute/limit.ts";
import { planPage } from "../runner/plan/plan.ts";
import { cacheDir, cell, runSource, tmp, ts } from "./helpers.ts";
import { allGone } from "./helpers.ts";

const udpServer = ts(
  "name=srv server",
  `
import dgram from "node:dgram";
import { port } from "lectern";
const s = dgram.createSocket("udp4");
s.on("message", (msg, from) => {
  console.log(\`\${from.address}:\${from.port} sent \${msg}\`);
  s.send(msg.toString().toUpperCase(), from.port, from.address);
});
s.bind(port("udp"), "127.0.0.1", () => console.log("ready"));
`,
);

const udpClient = ts(
  'name=cli stdin="hello there"',
  `
import dgram from "node:dgram";
import { input, port } from "lectern";
const line = await input("say: ");
const c = dgram.createSocket("udp4");
c.bind(0, "127.0.0.1", () => {
  console.log("my port", c.address().port);
  c.send(line, port("udp"), "127.0.0.1");
});
c.on("message", (m) => { console.log(String(m)); c.close(); });
`,
);

describe("executePlan", () => {
  it("runs a client once its server listens, echoes its input, and stops the server after", async () => {
    const r = await runSource(udpServer + udpClient);
    const client = cell(r, "cli");
    expect(client.status).toBe("passed");
    expect(client.exitCode).toBe(0);
    const clientPort = /my port (\d+)/.exec(client.output)![1];
    expect(client.output).toBe(`say: hello there\nmy port ${clientPort}\nHELLO THERE\n`);
    expect(client.chunks).toEqual([
      { stream: "stdout", text: "say: " },
      { stream: "stdin", text: "hello there\n" },
      { stream: "stdout", text: `my port ${clientPort}\nHELLO THERE\n` },
    ]);
    const server = cell(r, "srv");
    expect(server).toMatchObject({ status: "passed", signal: "SIGTERM", exitCode: null });
    expect(server.output).toBe(`ready\n127.0.0.1:${clientPort} sent hello there\n`);
    expect(Object.keys(r.ports)).toEqual(["udp"]);
  });

  it("passes expect=ECONNREFUSED only when the cell really hit it and failed", async () => {
    const connect = `import net from "node:net";\nimport { port } from "lectern";\n`;
    const r = await runSource(
      ts("name=thrown expect=ECONNREFUSED", connect + `net.connect(port("nobody"), "127.0.0.1");`) +
        ts("name=caught expect=ECONNREFUSED", connect + `net.connect(port("nobody"), "127.0.0.1").on("error", (e: any) => { console.log(e.code); process.exitCode = 3; });`) +
        ts("name=clean expect=ECONNREFUSED", `console.log("fine");`) +
        ts("name=other expect=ECONNREFUSED", `throw new Error("boom");`),
    );
    expect(cell(r, "thrown")).toMatchObject({ status: "passed", exitCode: 1, errors: ["ECONNREFUSED"] });
    expect(cell(r, "caught")).toMatchObject({ status: "passed", exitCode: 3, output: "ECONNREFUSED\n" });
    expect(cell(r, "clean")).toMatchObject({ status: "failed", reason: "expected ECONNREFUSED, but it exited with status 0" });
    expect(cell(r, "other")).toMatchObject({ status: "failed", reason: "expected ECONNREFUSED, but it raised no socket error and exited with status 1" });
  });

  it("points a stack trace at the page's own line", async () => {
    const r = await runSource("# Title\n\nProse.\n\n" + ts("name=boom", 'function f(): never {\n  throw new Error("boom");\n}\nf();'));
    // The fence is at line 5, so `throw` is at line 7, column 9.
    expect(cell(r, "boom").output).toMatch(/^    at f \(\/.*\/page\.md:7:9\)$/m);
  });

  it("names the imported file, at its own line, when that file does not compile", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "helper.ts"), "export const a = 1;\nexport const b = ;\n");
    const path = join(dir, "page.md");
    const source = "# T\n\n" + ts("name=uses", 'import { a } from "./helper.ts";\nconsole.log(a);');
    writeFileSync(path, source);
    const r = await executePlan(await planPage(extractPage(path, source)), {
      cacheDir,
      timeout: 10,
      jobs: createLimiter(2),
      env: { PATH: process.env.PATH ?? "" },
      maxOutput: 1 << 20,
      graceMs: 500,
    });
    expect(cell(r, "uses").status).toBe("failed");
    expect(cell(r, "uses").reason).toMatch(/helper\.ts:2: cell "uses" imports .*helper\.ts, which does not compile: Unexpected ";" \[E_COMPILE\]$/);
    expect(cell(r, "uses").cause).toBeInstanceOf(LecternError);
  });

  it("checks exit=N and expect=error", async () => {
    const r = await runSource(
      ts("name=three exit=3", "process.exit(3);") +
        ts("name=wrong exit=3", "process.exit(4);") +
        ts("name=err expect=error", "process.exitCode = 1;"),
    );
    expect(cell(r, "three").status).toBe("passed");
    expect(cell(r, "wrong")).toMatchObject({ status: "failed", reason: "expected exit status 3, but it exited with status 4" });
    expect(cell(r, "err").status).toBe("passed");
  });

  it("stops a cell at its timeout with what it printed, and runs the rest of the page", async () => {
    const r = await runSource(
      ts("name=hang timeout=1", 'console.log("started");\nsetInterval(() => {}, 1000);') + ts("name=after needs=hang", 'console.log("still here");'),
    );
    expect(cell(r, "hang")).toMatchObject({ status: "timeout", signal: "SIGTERM", output: "started\n", reason: "still running after 1 s" });
    expect(cell(r, "after")).toMatchObject({ status: "passed", output: "still here\n" });
  });

  it("ends what a cell left behind in its process group, and a server that ignores SIGTERM", async () => {
    const r = await runSource(
      ts(
        "name=parent",
        `import { spawn } from "node:child_process";\nconst c = spawn("sleep", ["30.0417"], { stdio: "ignore" });\nc.unref();\nconsole.log(c.pid);`,
      ) +
        ts(
          "name=stubborn server",
          `import net from "node:net";\nimport { port } from "lectern";\nprocess.title = "lectern-stubborn-0417";\nprocess.on("SIGTERM", () => console.log("ignoring SIGTERM"));\nnet.createServer().listen(port("tcp"), "127.0.0.1");\nconsole.log(process.pid);`,
        ) +
        ts("name=client", `import { port } from "lectern";\nconsole.log(port("tcp") > 0);`),
    );
    const orphan = Number(cell(r, "parent").output.trim());
    expect(orphan).toBeGreaterThan(0);
    // Looked up by their marks: a sandboxed cell prints its pid in its own PID namespace.
    expect(await allGone("sleep 30.0417")).toBe(true);
    const stubborn = cell(r, "stubborn");
    expect(stubborn).toMatchObject({ status: "passed", signal: "SIGKILL" });
    expect(stubborn.output).toContain("ignoring SIGTERM");
    expect(await allGone("lectern-stubborn-0417")).toBe(true);
  });

  it("reports a server's clients as not started, at once, when it crashes before listening", async () => {
    const r = await runSource(
      ts("name=bad server", `import { port } from "lectern";\nport("tcp");\nthrow new Error("no config");`) +
        ts("name=client", `import { port } from "lectern";\nport("tcp");`),
    );
    expect(cell(r, "bad")).toMatchObject({ status: "failed", exitCode: 1 });
    expect(cell(r, "client")).toMatchObject({ status: "failed", reason: 'not started: server "bad" ended before it was ready (it exited with status 1)', exitCode: null });
  });

  it("waits for ready=/regex/ on a server that never binds a socket", async () => {
    const r = await runSource(
      ts("name=srv server ready=/up/", `setTimeout(() => console.log("up"), 200);\nsetInterval(() => {}, 1000);`) + ts("name=after needs=srv", `console.log("after");`),
    );
    expect(cell(r, "srv")).toMatchObject({ status: "passed", output: "up\n" });
    expect(cell(r, "after").status).toBe("passed");
  });

  it("runs independent cells at the same time", async () => {
    // Each waits (boundedly) for a file the other writes in the scratch folder (the page's own
    // folder is read-only to its cells): both pass only if they overlap.
    const meet = (mine: string, theirs: string) =>
      `import { existsSync, writeFileSync } from "node:fs";\nimport { tmpdir } from "node:os";\nprocess.chdir(tmpdir());\nwriteFileSync("${mine}", "");\nfor (let i = 0; i < 200 && !existsSync("${theirs}"); i++) await new Promise((r) => setTimeout(r, 25));\nconsole.log(existsSync("${theirs}"));`;
    const r = await runSource(ts("name=a", meet(`a-${process.pid}.flag`, `b-${process.pid}.flag`)) + ts("name=b", meet(`b-${process.pid}.flag`, `a-${process.pid}.flag`)));
    expect(r.cells.map((c) => c.output)).toEqual(["true\n", "true\n"]);
  });

  it("keeps everything a cell printed before process.exit, split characters whole", async () => {
    const r = await runSource(
      ts("name=big", `process.stdout.write("x".repeat(300_000) + "\\n");\nprocess.exit(0);`) +
        ts("name=split", `const b = Buffer.from("héllo €");\nprocess.stdout.write(b.subarray(0, 2));\nawait new Promise((r) => setTimeout(r, 50));\nprocess.stdout.write(b.subarray(2));`),
    );
    expect(cell(r, "big").output.length).toBe(300_001);
    expect(cell(r, "split").output).toBe("héllo €");
  });

  it("stops a cell that prints without end at the output cap", async () => {
    const r = await runSource(ts("name=flood", `const s = "y".repeat(65536);\nfor (;;) process.stdout.write(s);`), { maxOutput: 100_000 });
    const flood = cell(r, "flood");
    expect(flood.status).toBe("failed");
    expect(flood.reason).toBe("stopped: printed more than the output cap");
    expect(flood.output.startsWith("y".repeat(100_000) + "\n[output truncated: ")).toBe(true);
  });

  it("skips skip cells and reports an interrupted run", async () => {
    const controller = new AbortController();
    const pending = runSource(ts("name=s skip", "throw 1;") + ts("name=long timeout=30", `console.log("working");\nsetInterval(() => {}, 1000);`), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "start") setTimeout(() => controller.abort(), 300);
      },
    });
    const r = await pending;
    expect(cell(r, "s")).toMatchObject({ status: "skipped", durationMs: 0 });
    expect(cell(r, "long")).toMatchObject({ status: "failed", reason: "interrupted" });
  });
});
