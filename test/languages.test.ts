// Cells in Python and C beside TypeScript, through the real command (`node runner/bin.mjs`):
// pairs across languages on real loopback sockets, readiness from the socket table (a server
// that binds late), a refusal that is really one, a C cell that does not compile, a missing
// interpreter, and `lectern check` at page lines.
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cacheDir, gone, hostPids, tmp } from "./helpers.ts";

const BIN = fileURLToPath(new URL("../runner/bin.mjs", import.meta.url));

interface JsonCell {
  name: string;
  status: string;
  exitCode: number | null;
  signal: string | null;
  output: string;
  reason: string | null;
  errors: string[];
}
interface JsonPage {
  ports: Record<string, number>;
  cells: JsonCell[];
  trace: { cell: string; proto: string; kind: string; from?: string; to?: string; preview?: string; wire?: boolean }[];
}

function lectern(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

function page(source: string): string {
  const path = join(tmp(), "page.md");
  writeFileSync(path, source);
  return path;
}

async function run(source: string, env?: NodeJS.ProcessEnv): Promise<{ code: number; page: JsonPage; path: string }> {
  const path = page(source);
  const { code, stdout } = await lectern(["run", path, "--json", "--cache", cacheDir], env);
  return { code, page: JSON.parse(stdout).pages[0], path };
}

const cellOf = (p: JsonPage, name: string) => p.cells.find((c) => c.name === name)!;
const fence = (info: string, code: string) => "```" + info + "\n" + code.trim() + "\n```\n\n";

const PY_UDP_SERVER = fence(
  "python name=udp-server server",
  `
from socket import socket, AF_INET, SOCK_DGRAM
from lectern import port

server = socket(AF_INET, SOCK_DGRAM)
server.bind(("127.0.0.1", port("udp")))
while True:
    message, client = server.recvfrom(2048)
    print("got", message.decode())
    server.sendto(message.decode().upper().encode(), client)
`,
);

const PY_UDP_CLIENT = fence(
  'python name=udp-client stdin="hello"',
  `
from socket import socket, AF_INET, SOCK_DGRAM
from lectern import port, input

line = input("Input lowercase sentence: ")
client = socket(AF_INET, SOCK_DGRAM)
client.sendto(line.encode(), ("127.0.0.1", port("udp")))
reply, _ = client.recvfrom(2048)
print(reply.decode())
client.close()
`,
);

const PY_TCP_SERVER = (delay: string) =>
  fence(
    "python name=tcp-server server",
    `
import time
from socket import socket, AF_INET, SOCK_STREAM
from lectern import port

${delay}
server = socket(AF_INET, SOCK_STREAM)
server.bind(("127.0.0.1", port("tcp")))
server.listen(1)
print("listening")
while True:
    conn, _ = server.accept()
    conn.send(conn.recv(1024).upper())
    conn.close()
`,
  );

const C_TCP_CLIENT = fence(
  "c name=c-client",
  `
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lectern.h"

int main(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(lectern_port("tcp", 12000)) };
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) { perror("connect"); return 1; }
  send(fd, "from c", 6, 0);
  char buf[64];
  ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
  buf[n > 0 ? n : 0] = '\\0';
  printf("%s\\n", buf);
  close(fd);
  return 0;
}
`,
);

describe("Python and C cells", { timeout: 60_000 }, () => {
  it("runs a Python UDP pair: input echoed, the datagrams on the wire between the two cells", async () => {
    const { code, page: p } = await run(PY_UDP_SERVER + PY_UDP_CLIENT);
    expect(code).toBe(0);
    expect(cellOf(p, "udp-client")).toMatchObject({ status: "passed", exitCode: 0, output: "Input lowercase sentence: hello\nHELLO\n" });
    expect(cellOf(p, "udp-server")).toMatchObject({ status: "passed", signal: "SIGTERM", output: "got hello\n" });
    const wire = p.trace.filter((e) => e.wire && e.proto === "udp").map((e) => `${e.from}->${e.to} ${e.preview}`);
    expect(wire).toEqual(["udp-client->udp-server hello", "udp-server->udp-client HELLO"]);
  });

  it("runs a Python client of a TypeScript server", async () => {
    const server = fence(
      "ts name=ts-server server",
      `
import net from "node:net";
import { port } from "lectern";
net.createServer((c) => c.on("data", (d) => c.end(String(d).toUpperCase()))).listen(port("tcp"), "127.0.0.1");
`,
    );
    const client = fence(
      "py name=py-client",
      `
from socket import create_connection
from lectern import port
with create_connection(("127.0.0.1", port("tcp"))) as s:
    s.sendall(b"protocols do not care")
    print(s.recv(1024).decode())
`,
    );
    const { code, page: p } = await run(server + client);
    expect(code).toBe(0);
    expect(cellOf(p, "py-client")).toMatchObject({ status: "passed", output: "PROTOCOLS DO NOT CARE\n" });
  });

  it("runs a C TCP client of a Python server that binds late: ready from the socket table, no sleep of Lectern's", async () => {
    // The server sleeps a second before it binds: a client started early would be refused.
    const { code, page: p } = await run(PY_TCP_SERVER("time.sleep(1)") + C_TCP_CLIENT);
    expect(code).toBe(0);
    expect(cellOf(p, "c-client")).toMatchObject({ status: "passed", exitCode: 0, output: "FROM C\n" });
    expect(cellOf(p, "tcp-server")).toMatchObject({ status: "passed", signal: "SIGTERM", output: "listening\n" });
    const data = p.trace.filter((e) => e.wire && e.kind === "send").map((e) => `${e.from}->${e.to} ${e.preview}`);
    expect(data).toEqual(["c-client->tcp-server from c", "tcp-server->c-client FROM C"]);
  });

  it("passes a Python client that expects ECONNREFUSED only when it was refused (the wire shows the RST to its SYN)", async () => {
    const refused = fence(
      "python name=refused expect=ECONNREFUSED",
      `
from socket import create_connection
from lectern import port
create_connection(("127.0.0.1", port("nobody")))
`,
    );
    const pretends = fence("python name=pretends expect=ECONNREFUSED", `raise SystemExit(1)`);
    const { code, page: p } = await run(refused + pretends);
    expect(code).toBe(1);
    expect(cellOf(p, "refused")).toMatchObject({ status: "passed", exitCode: 1, errors: ["ECONNREFUSED"] });
    expect(cellOf(p, "refused").output).toContain("ConnectionRefusedError: [Errno 111] Connection refused");
    expect(cellOf(p, "refused").output).not.toContain("_lectern_boot");
    expect(cellOf(p, "pretends")).toMatchObject({ status: "failed", reason: "expected ECONNREFUSED, but it raised no socket error and exited with status 1" });
    // The refused socket lived for a moment, beside another Python cell: the cell named it itself.
    const wire = p.trace.filter((e) => e.wire && e.proto === "tcp").map((e) => `${e.kind} ${e.from}->${e.to}`);
    expect(wire).toEqual(["syn refused->", "rst ->refused"]);
  });

  it("loads Lectern's Python modules as bytecode compiled once into the cache, and compiles them again when that was changed", async () => {
    const cache = join(tmp(), "cache");
    const probe = fence("python name=probe", "import lectern, _lectern_boot\nprint(lectern.__file__)\nprint(_lectern_boot.__cached__)");
    const path = page(probe);
    const once = await lectern(["run", path, "--json", "--cache", cache]);
    expect(once.code).toBe(0);
    const [dir] = readdirSync(join(cache, "python"));
    const folder = join(cache, "python", dir!);
    const pyc = (name: string) => join(folder, "__pycache__", readdirSync(join(folder, "__pycache__")).find((f) => f.startsWith(`${name}.`))!);
    expect(JSON.parse(once.stdout).pages[0].cells[0].output).toBe(`${join(folder, "lectern.py")}\n${pyc("_lectern_boot")}\n`);
    // A changed bytecode file in the cache is never run: the folder is made again.
    writeFileSync(pyc("_lectern_boot"), "not bytecode");
    const again = await lectern(["run", path, "--json", "--cache", cache]);
    expect(JSON.parse(again.stdout).pages[0].cells[0]).toMatchObject({ status: "passed" });
    expect(readFileSync(pyc("_lectern_boot")).subarray(0, 4)).not.toEqual(Buffer.from("not "));
  });

  it("fails a Python and a C cell that say ECONNREFUSED on Lectern's side channel when the wire shows no refusal", async () => {
    const forged = '{"type":"error","code":"ECONNREFUSED"}\\n';
    const py = fence("python name=forges-py expect=ECONNREFUSED", `import os\nos.write(3, b'${forged}')\nraise SystemExit(1)`);
    const c = fence("c name=forges-c expect=ECONNREFUSED", `#include <unistd.h>\nint main(void) { write(3, ${JSON.stringify(forged.replace("\\n", "\n"))}, ${forged.length - 1}); return 1; }`);
    const udp = fence(
      "python name=udp-refused expect=ECONNREFUSED",
      `
from socket import socket, AF_INET, SOCK_DGRAM
from lectern import port
s = socket(AF_INET, SOCK_DGRAM)
s.connect(("127.0.0.1", port("nobody-udp")))
s.send(b"anyone?")
s.recv(100)
`,
    );
    // A real refusal of a C client (its runtime names the socket that was refused).
    const cRefused = C_TCP_CLIENT.replace("c name=c-client", "c name=c-refused expect=ECONNREFUSED").replace('lectern_port("tcp", 12000)', 'lectern_port("nobody-c", 0)');
    const { page: p } = await run(py + c + udp + cRefused);
    const reason = "expected ECONNREFUSED: the process reported it, but the capture shows no refusal of its sockets (no RST answering its SYN, no port unreachable)";
    expect(cellOf(p, "forges-py")).toMatchObject({ status: "failed", exitCode: 1, errors: ["ECONNREFUSED"], reason });
    expect(cellOf(p, "forges-c")).toMatchObject({ status: "failed", exitCode: 1, errors: ["ECONNREFUSED"], reason });
    // A datagram's refusal is the ICMP port unreachable that answers it.
    expect(cellOf(p, "udp-refused")).toMatchObject({ status: "passed", exitCode: 1, errors: ["ECONNREFUSED"] });
    expect(cellOf(p, "c-refused")).toMatchObject({ status: "passed", exitCode: 1, errors: ["ECONNREFUSED"], output: "connect: Connection refused\n" });
  });

  it("reports a Python traceback at the page's line", async () => {
    const { page: p, path } = await run("# t\n\n" + fence("python name=crash", 'x = 1\nraise ValueError("boom")'));
    expect(cellOf(p, "crash")).toMatchObject({ status: "failed", exitCode: 1 });
    expect(cellOf(p, "crash").output).toBe(`Traceback (most recent call last):\n  File "${path}", line 5, in <module>\n    raise ValueError("boom")\nValueError: boom\n`);
  });

  it("fails a C cell that does not compile at the page's line, as a TypeScript compile error", async () => {
    const broken = fence("c name=broken", "int main(void) {\n  return y;\n}");
    const { code, page: p, path } = await run("# C\n\n" + broken + fence("ts name=fine", 'console.log("still runs");'));
    expect(code).toBe(1);
    const c = cellOf(p, "broken");
    expect(c).toMatchObject({ status: "failed", exitCode: null, reason: `${path}:5:10: cell "broken" does not compile: 'y' undeclared (first use in this function) [E_COMPILE]` });
    expect(c.output).toContain(`${path}:5:10: error: 'y' undeclared`);
    expect(cellOf(p, "fine")).toMatchObject({ status: "passed", output: "still runs\n" });
  });

  it("says once per cell that python3 is missing, and runs the page's other cells", async () => {
    // A PATH with everything of the system's but python3.
    const bin = tmp();
    for (const dir of ["/usr/bin", "/usr/sbin"]) {
      for (const name of readdirSync(dir)) {
        if (name.startsWith("python")) continue;
        try {
          symlinkSync(join(dir, name), join(bin, name));
        } catch {
          // The same name in both folders: the first one wins, as on PATH.
        }
      }
    }
    mkdirSync(join(bin, "empty"));
    const source = "# p\n\n" + fence("python name=py", 'print("hi")') + fence("ts name=ts", 'console.log("ts runs");');
    const { code, page: p, path } = await run(source, { ...process.env, PATH: bin });
    expect(code).toBe(1);
    expect(cellOf(p, "py")).toMatchObject({
      status: "failed",
      reason: `${path}:3: python3 not found: install it (Debian: apt-get install python3), or mark the cell skip [E_NO_TOOL]`,
    });
    expect(cellOf(p, "ts")).toMatchObject({ status: "passed", output: "ts runs\n" });
  });
});

describe("Python and C cells are held as TypeScript ones are", { timeout: 60_000 }, () => {
  it("times out a Python cell that never ends, and gives it only the small environment", async () => {
    const hangs = fence("python name=hangs timeout=1", "import time\nprint('waiting', flush=True)\nwhile True:\n    time.sleep(0.05)");
    const env = fence("py name=env", "import os\nprint(sorted(k for k in os.environ if k.startswith(('SECRET', 'PYTHON', 'LECTERN_C'))))");
    const { page: p } = await run(hangs + env, { ...process.env, SECRET_TOKEN: "x" });
    expect(cellOf(p, "hangs")).toMatchObject({ status: "timeout", reason: "still running after 1 s", output: "waiting\n" });
    expect(cellOf(p, "env")).toMatchObject({ status: "passed", output: "['PYTHONDONTWRITEBYTECODE', 'PYTHONPATH']\n" });
  });

  it("leaves nothing behind of a C server that started a child of its own", async () => {
    const server = fence(
      "c name=forks server",
      `
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lectern.h"

int main(void) {
  if (fork() == 0) {
    printf("child started\\n");
    fflush(stdout);
    execlp("sleep", "sleep", "30.4567", (char *)0);
    return 1;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(lectern_port("tcp", 0)) };
  inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
  if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0 || listen(fd, 1) < 0) { perror("listen"); return 1; }
  printf("listening\\n");
  for (;;) close(accept(fd, NULL, NULL));
}
`,
    );
    const client = fence("python name=knocks", 'from socket import create_connection\nfrom lectern import port\ncreate_connection(("127.0.0.1", port("tcp"))).close()\nprint("in")');
    const { code, page: p } = await run(server + client);
    expect(code).toBe(0);
    // The child ran (it said so) and is gone with its cell: its process group, then its cgroup.
    expect(cellOf(p, "forks")).toMatchObject({ status: "passed", signal: "SIGTERM" });
    expect(cellOf(p, "forks").output.split("\n").sort()).toEqual(["", "child started", "listening"]);
    expect(cellOf(p, "knocks")).toMatchObject({ status: "passed", output: "in\n" });
    for (const pid of hostPids("sleep 30.4567")) expect(await gone(pid)).toBe(true);
  });
});

describe("the loopback guard, where cells share the machine's network", { timeout: 60_000 }, () => {
  it("refuses a Python and a C cell a host other than loopback, with the guard's words", async () => {
    // 0.0.0.0 is this machine, but not loopback by name: the guard refuses it, and nothing leaves the host.
    const py = fence("python name=py expect=EACCES", 'from socket import create_connection\ncreate_connection(("0.0.0.0", 9))');
    const c = fence(
      "c name=c expect=EACCES",
      `
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

int main(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
  if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) { perror("connect"); return 1; }
  return 0;
}
`,
    );
    const path = page(py + c);
    // --allow-net keeps the run in the machine's network: the cells' own guard is what answers.
    const { code, stdout } = await lectern(["run", path, "--json", "--cache", cacheDir, "--allow-net=192.0.2.7"]);
    expect(code).toBe(0);
    const p = JSON.parse(stdout).pages[0] as JsonPage;
    expect(cellOf(p, "py")).toMatchObject({ status: "passed", errors: ["EACCES"] });
    expect(cellOf(p, "py").output).toContain("PermissionError: [Errno 13] connect EACCES 0.0.0.0:9: Lectern lets cells reach only loopback; run with --allow-net=0.0.0.0 to allow it");
    expect(cellOf(p, "c")).toMatchObject({
      status: "passed",
      errors: ["EACCES"],
      output: "connect EACCES 0.0.0.0:9: Lectern lets cells reach only loopback; run with --allow-net=0.0.0.0 to allow it\nconnect: Permission denied\n",
    });
  });
});

describe("port names before running", { timeout: 60_000 }, () => {
  it("finds Python's and C's port names as literals, and refuses a name Lectern cannot see, at its line", async () => {
    const listed = page("# p\n\n" + fence("python name=py", 'import os, lectern\nlectern.port("alpha")\nos.environ["LECTERN_PORT_BETA"]') + fence("c name=c", '#include "lectern.h"\nint main(void) { return lectern_port("gamma", 1) == 0; }'));
    const list = await lectern(["list", listed, "--json"]);
    expect(JSON.parse(list.stdout).cells.map((c: { name: string; lang: string; ports: string[] }) => [c.name, c.lang, c.ports])).toEqual([
      ["py", "python", ["alpha", "beta"]],
      ["c", "c", ["gamma"]],
    ]);
    const dynamic = page("# p\n\n" + fence("python name=py", 'from lectern import port\nname = "x"\nprint(port(name))'));
    const r = await lectern(["list", dynamic]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`lectern: ${dynamic}:6: port() must be given the port's name as a string literal, so Lectern knows every port before running [E_PORT_DYNAMIC]\n`);
  });
});

describe("lectern check for Python and C", { timeout: 60_000 }, () => {
  it("reports Python's syntax errors and cc's errors and warnings at their page lines and columns", async () => {
    const source = [
      "# check\n\n",
      fence("python name=bad", 'x = 1\nprint("hi"'),
      "- in a list\n\n",
      "  ```c name=warny\n  int main(void) {\n    int unused;\n    return 0;\n  }\n  ```\n\n",
      fence("c name=broken", "int main(void) { return y; }"),
      fence("python name=good nocheck", "this is not python"),
    ].join("");
    const path = page(source);
    const { code, stdout } = await lectern(["check", path]);
    expect(code).toBe(1);
    expect(stdout.split("\n").filter((l) => l.startsWith(path))).toEqual([
      `${path}:5:6: error SyntaxError: '(' was never closed (cell bad)`,
      `${path}:12:9: warning cc: unused variable 'unused' [-Wunused-variable] (cell warny)`,
      `${path}:18:25: error cc: 'y' undeclared (first use in this function) (cell broken)`,
    ]);
    expect(stdout).toContain("3 errors in 3 cells of 1 page");
  });
});
