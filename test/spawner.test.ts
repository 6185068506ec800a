// The spawner (runner/execute/spawner.ts + spawner.c): every cell's process starts through it, so
// what a child sees (its argv, environment, folder, streams, session) and what Lectern learns of
// its end must be what Node's spawn() gave, however fast the child ends and whatever it does.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnChild, type Child } from "../runner/execute/spawner.ts";
import { buildEnter, enterHelper } from "../runner/execute/enter.ts";
import { BIN } from "./command.ts";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "lectern-spawner-")));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Ended {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  error: string | null;
}

/** Everything a child printed and how it ended, once it has closed. */
function follow(child: Child, input = ""): Promise<Ended> {
  let stdout = "";
  let stderr = "";
  let error: string | null = null;
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin?.on("error", () => {});
  child.stdin?.end(input);
  child.once("error", (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  return new Promise((resolve) => child.once("close", (code: number | null, signal: string | null) => resolve({ code, signal, stdout, stderr, error })));
}

const options = { cwd: dir, env: { PATH: "/usr/bin:/bin", ONLY: "this" }, detached: true, stdio: ["pipe", "pipe", "pipe"] as ("pipe" | "ignore" | number)[] };

describe("the spawner", () => {
  it("gives the child its argv, exactly its environment, its folder, its input with an end, and its own session", async () => {
    const script = 'read line; printf "%s|%s|%s|%s\\n" "$1" "$line" "$(pwd)" "$(env | sort | tr "\\n" ",")"; echo err >&2; ps -o sid= -p $$; exit 3';
    const child = await spawnChild("sh", ["-c", script, "sh", "an arg with spaces"], options);
    const end = await follow(child, "typed line\n");
    const [first, sid] = end.stdout.trim().split("\n");
    expect(first).toBe(`an arg with spaces|typed line|${dir}|ONLY=this,PATH=/usr/bin:/bin,PWD=${dir},`);
    expect(Number(sid)).toBe(child.pid);
    expect([end.code, end.signal, end.stderr, end.error]).toEqual([3, null, "err\n", null]);
  });

  it("names the inodes of the child's stream sockets, as its own descriptors show them", async () => {
    const child = await spawnChild("sh", ["-c", "for fd in 0 1 2 3; do readlink /proc/$$/fd/$fd; done; read line"], { ...options, stdio: ["pipe", "pipe", "pipe", "pipe"] });
    const end = await follow(child, "done\n");
    expect(end.stdout.trim().split("\n").map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1])).toEqual(child.streamInodes);
    expect(child.streamInodes).toHaveLength(4);
    const quiet = await spawnChild("true", [], { ...options, stdio: ["ignore", "pipe", "ignore"] });
    await follow(quiet);
    expect(quiet.streamInodes).toHaveLength(1);
  });

  it("does the enter helper's work in the child: SIGTERM ignored when asked, its statuses for a missing command and namespace", async () => {
    // Started through the spawner, the helper's command line is done by the spawner's child.
    const enter = (await buildEnter())!;
    expect(enter).toBe(enterHelper());
    const ignoring = await follow(await spawnChild(enter, ["--ignore-term", "--", "sh", "-c", "kill -TERM $$; echo still here"], options));
    expect([ignoring.code, ignoring.stdout]).toEqual([0, "still here\n"]);
    const plain = await follow(await spawnChild(enter, ["--", "sh", "-c", "kill -TERM $$; echo still here"], options));
    expect([plain.signal, plain.stdout]).toEqual(["SIGTERM", ""]);
    const missing = await follow(await spawnChild(enter, ["--", "/no/such/program"], options));
    expect([missing.code, missing.stderr]).toEqual([127, "lectern enter: /no/such/program: No such file or directory\n"]);
    const nowhere = await follow(await spawnChild(enter, ["--net=/proc/no-such-pid/ns/net", "--", "true"], options));
    expect([nowhere.code, nowhere.stderr]).toEqual([125, "lectern enter: the page's network namespace: No such file or directory\n"]);
  });

  it("hands a cell no descriptor Lectern itself was given without close-on-exec", async () => {
    // Lectern started with a file open at fd 251, as a shell's `251>file` or a CI harness leaves one.
    writeFileSync(join(dir, "fds.md"), "```sh name=fds\n[ -e /proc/$$/fd/251 ] && echo leaked || echo clean\n```\n");
    const script = `exec "$0" "$@" 251>"${join(dir, "held")}"`;
    const child = spawn("bash", ["-c", script, process.execPath, BIN, "run", "fds.md", "--json", "--cache", join(dir, "cache")], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    await new Promise((r) => child.once("close", r));
    expect((JSON.parse(out) as { pages: { cells: { output: string }[] }[] }).pages[0]!.cells[0]!.output).toBe("clean\n");
  }, 30_000);

  it("reports every end of fifty children that exit at once, with nothing printed", async () => {
    // Each followed as soon as it is there, as Lectern follows a cell's process.
    const ends = await Promise.all(Array.from({ length: 50 }, () => spawnChild("true", [], options).then((c) => follow(c))));
    expect(ends.every((e) => e.code === 0 && e.stdout === "" && e.error === null)).toBe(true);
  });

  it("reports a signal as the signal, and a program that is not there as Node does: an error, then the end", async () => {
    const killed = await spawnChild("sh", ["-c", "kill -KILL $$"], options);
    expect(await follow(killed)).toMatchObject({ code: null, signal: "SIGKILL" });
    const missing = await spawnChild("no-such-program-here", [], options);
    expect(await follow(missing)).toMatchObject({ error: "ENOENT", code: null });
    const nowhere = await spawnChild("true", [], { ...options, cwd: join(dir, "no-such-folder") });
    expect((await follow(nowhere)).error).toBe("ENOENT");
  });

  it("hands over the side channel as fd 3, both ways, and the trace file as fd 4", async () => {
    const traceFd = openSync(join(dir, "trace"), "w+");
    const child = await spawnChild("sh", ["-c", "read line <&3; echo \"got $line\" >&3; echo written >&4"], { ...options, stdio: ["pipe", "pipe", "pipe", "pipe", traceFd] });
    let back = "";
    child.stdio[3]!.on("data", (d: Buffer) => (back += d));
    (child.stdio[3] as NodeJS.WritableStream).write("flush\n");
    expect((await follow(child)).code).toBe(0);
    expect(back).toBe("got flush\n");
    expect(readFileSync(join(dir, "trace"), "utf8")).toBe("written\n");
  });

  it("a child outlives a spawner that was killed: its end is still reported, and the next child starts", async () => {
    const child = await spawnChild("sh", ["-c", "sleep 0.3"], options);
    const spawner = Number(execFileSync("ps", ["-o", "ppid=", "-p", String(child.pid)], { encoding: "utf8" }).trim());
    expect(readFileSync(`/proc/${spawner}/cmdline`, "utf8")).toContain(".spawner-");
    process.kill(spawner, "SIGKILL");
    const end = await follow(child);
    // Its parent gone, nobody can know how it ended, only that it did.
    expect(end.code === 0 || end.signal === "SIGKILL").toBe(true);
    expect((await follow(await spawnChild("echo", ["again"], options))).stdout).toBe("again\n");
  });
});
