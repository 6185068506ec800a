// The live notebook's guard, through the real command (`node runner/bin.mjs serve`) and plain
// HTTP: each refusal with its exact status (no token, a foreign Host, a foreign Origin, a page
// outside the served ones), the token's cookie, and a Run refused where there is no sandbox.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tmp } from "./helpers.ts";

const BIN = new URL("../runner/bin.mjs", import.meta.url).pathname;
const PAGE = "# Live\n\n```ts name=hello\nconsole.log(\"hello\");\n```\n";

interface Served {
  child: ChildProcess;
  base: string;
  token: string;
  port: number;
}

/** `lectern serve PAGE --port 0`, once it has printed its URL. */
async function start(dir: string, env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, "serve", "page.md", "--port", "0", "--cache", join(dir, "cache")], { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      if (out.includes("\n")) resolve(out.split("\n")[0]!);
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
  const m = /^serving (http:\/\/127\.0\.0\.1:(\d+)\/)\?token=([\w-]{32}) \(Ctrl-C to stop\)$/.exec(line);
  if (!m) throw new Error(`unexpected first line: ${line}`);
  return { child, base: m[1]!, port: Number(m[2]), token: m[3]! };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with exactly these headers (fetch would not let a test set Host). */
function http(s: Served, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: s.port, method, path, headers: { host: `127.0.0.1:${s.port}`, ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        // An event stream stays open: its first event is enough.
        if (res.headers["content-type"] === "text/event-stream" && text.includes("\n\n")) req.destroy();
      });
      const done = () => resolve({ status: res.statusCode!, headers: res.headers, body: text });
      res.on("end", done);
      res.on("close", done);
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("lectern serve's guard", () => {
  let dir: string;
  let s: Served;
  let cookie: Record<string, string>;
  let origin: Record<string, string>;
  const json = { "content-type": "application/json" };

  beforeAll(async () => {
    dir = tmp();
    writeFileSync(join(dir, "page.md"), PAGE);
    writeFileSync(join(dir, "secret.md"), "# Not served\n");
    s = await start(dir);
    cookie = { cookie: `lectern-token-${s.port}=${s.token}` };
    origin = { ...cookie, ...json, origin: `http://127.0.0.1:${s.port}` };
  }, 30_000);
  afterAll(() => void s?.child.kill("SIGTERM"));

  it("lets in only the token: in the URL once (then an HttpOnly SameSite=Strict cookie), never without it", async () => {
    expect((await http(s, "GET", "/page.html", {})).status).toBe(401);
    expect((await http(s, "GET", "/page.html?token=wrong", {})).status).toBe(401);
    expect((await http(s, "GET", "/page.html", { cookie: `lectern-token-${s.port}=${s.token.slice(1)}x` })).status).toBe(401);
    const first = await http(s, "GET", `/page.html?token=${s.token}`, {});
    expect([first.status, first.headers.location, first.headers["set-cookie"]]).toEqual([303, "/page.html", [`lectern-token-${s.port}=${s.token}; HttpOnly; SameSite=Strict; Path=/`]]);
    const page = await http(s, "GET", "/page.html", cookie);
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toBe("frame-ancestors 'none'");
    expect(page.body).toContain("default-src 'none'; connect-src 'self'; style-src 'self';");
    const noToken = await http(s, "POST", "/__lectern/run", { ...json, origin: `http://127.0.0.1:${s.port}` }, JSON.stringify({ page: "page.html", cell: "hello" }));
    expect([noToken.status, noToken.body]).toEqual([401, "refused: open the URL that `lectern serve` printed (it carries ?token=...)\n"]);
    const events = await http(s, "GET", "/__lectern/events?page=page.html", {});
    expect(events.status).toBe(401);
  });

  it("refuses a foreign Host (DNS rebinding), even with the token", async () => {
    for (const host of [`evil.example:${s.port}`, "127.0.0.1:1", "localhost.evil.example"]) {
      const answer = await http(s, "GET", `/page.html?token=${s.token}`, { host });
      expect([answer.status, answer.body.split(" (")[0]]).toEqual([403, `refused: Host "${host}" is not this server`]);
    }
    expect((await http(s, "GET", "/page.html", { ...cookie, host: `localhost:${s.port}` })).status).toBe(200);
  });

  it("refuses to run or save for another origin (CSRF) and serves its event stream to no other origin", async () => {
    const body = JSON.stringify({ page: "page.html", cell: "hello" });
    for (const [headers, from] of [[{ ...cookie, ...json }, "(none)"], [{ ...cookie, ...json, origin: "http://evil.example" }, "http://evil.example"], [{ ...cookie, ...json, origin: `http://127.0.0.1:${s.port + 1}` }, `http://127.0.0.1:${s.port + 1}`]] as const) {
      for (const action of ["run", "stop", "save"]) {
        const answer = await http(s, "POST", `/__lectern/${action}`, headers, body);
        expect([answer.status, answer.body]).toEqual([403, `refused: a request from origin "${from}" may not run or save\n`]);
      }
    }
    const stream = await http(s, "GET", "/__lectern/events?page=page.html", { ...cookie, origin: "http://evil.example" });
    expect([stream.status, stream.headers["access-control-allow-origin"]]).toEqual([403, undefined]);
    const own = await http(s, "GET", "/__lectern/events?page=page.html", cookie);
    expect([own.status, own.headers["content-type"], own.headers["access-control-allow-origin"], own.body]).toEqual([200, "text/event-stream", undefined, 'data: {"type":"snapshot","running":[]}\n\n']);
    expect((await http(s, "POST", "/__lectern/run", { ...cookie, origin: `http://127.0.0.1:${s.port}`, "content-type": "text/plain" }, body)).status).toBe(415);
  });

  it("never reads or writes outside the served pages", async () => {
    const before = readFileSync(join(dir, "secret.md"), "utf8");
    for (const page of ["../secret.md", "secret.md", "secret.html", "/etc/passwd", "page.md"]) {
      const answer = await http(s, "POST", "/__lectern/save", origin, JSON.stringify({ page, cell: "hello", code: "hacked();\n" }));
      expect([answer.status, answer.body]).toEqual([404, `${JSON.stringify({ error: `not a served page: "${page}"` })}\n`]);
    }
    expect(readFileSync(join(dir, "secret.md"), "utf8")).toBe(before);
    expect(readFileSync(join(dir, "page.md"), "utf8")).toBe(PAGE);
    for (const path of ["/../secret.md", "/%2e%2e/secret.md", "/src/page/../../secret.md", "/..%2fsecret.md"]) {
      expect((await http(s, "GET", path, cookie)).status, path).toBe(404);
    }
    const gone = await http(s, "POST", "/__lectern/save", origin, JSON.stringify({ page: "page.html", cell: "../../x", code: "x();\n" }));
    expect(gone.status).toBe(409);
    expect(readFileSync(join(dir, "page.md"), "utf8")).toBe(PAGE);
  });

  it("runs a cell for its own origin, and saves into the page", async () => {
    const run = await http(s, "POST", "/__lectern/run", origin, JSON.stringify({ page: "page.html", cell: "hello" }));
    expect([run.status, run.body]).toEqual([202, '{"ok":true}\n']);
    const saved = await http(s, "POST", "/__lectern/save", origin, JSON.stringify({ page: "page.html", cell: "hello", code: 'console.log("saved");\n' }));
    expect([saved.status, saved.body]).toEqual([200, '{"ok":true}\n']);
    expect(readFileSync(join(dir, "page.md"), "utf8")).toBe(PAGE.replace('"hello"', '"saved"'));
  });

  it("refuses to Run where cells cannot be sandboxed, saying why", async () => {
    const bare = await start(dir, { LECTERN_SANDBOX: "off" });
    try {
      const answer = await http(bare, "POST", "/__lectern/run", { cookie: `lectern-token-${bare.port}=${bare.token}`, ...json, origin: `http://127.0.0.1:${bare.port}` }, JSON.stringify({ page: "page.html", cell: "hello" }));
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toEqual({ error: "not run: the live notebook runs cells only in the sandbox, and cells cannot be sandboxed here (LECTERN_SANDBOX=off); install bubblewrap (Debian: apt-get install bubblewrap)" });
    } finally {
      bare.child.kill("SIGTERM");
    }
  }, 30_000);
});
