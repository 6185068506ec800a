// The helper that starts a cell (runner/execute/enter.c, built by enter.ts): run for real, it puts
// its command in the cgroup and network namespace it is given, with SIGTERM ignored, and refuses to
// run the command at all when it cannot enter the namespace; Lectern starts cells through it.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readlinkSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildEnter, enterCommand } from "../runner/execute/enter.ts";
import { findTool } from "../runner/execute/tools.ts";
import { runSource } from "./helpers.ts";

const CC = findTool("cc", process.env.PATH, false) !== null;
const ROOTED = process.getuid?.() === 0 && existsSync("/sys/fs/cgroup/pids");

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 10_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
  );
}

describe.runIf(CC)("the cell's first process (enter.c)", () => {
  it("is built once with cc beside the runner, and Lectern's wrap folds nsenter --net into it", async () => {
    const helper = await buildEnter();
    expect(helper).toMatch(/runner\/\.enter-[0-9a-f]{16}$/);
    expect(await buildEnter()).toBe(helper);
    const inside = { command: "nsenter", args: ["--net=/proc/1/ns/net", "--", "/usr/bin/bwrap", "--", "/bin/true"] };
    expect(enterCommand(["/g/pids", "/g/memory"], true, inside)).toEqual({
      command: helper,
      args: ["--net=/proc/1/ns/net", "--ignore-term", "/g/pids", "/g/memory", "--", "/usr/bin/bwrap", "--", "/bin/true"],
    });
    // Another form of nsenter (rootless: a user namespace too) is kept after it, whole.
    const rootless = { command: "nsenter", args: ["--user=/proc/1/ns/user", "--preserve-credentials", "--net=/proc/1/ns/net", "--", "/bin/true"] };
    expect(enterCommand([], false, rootless)).toEqual({ command: helper, args: ["--", "nsenter", ...rootless.args] });
  });

  describe.runIf(ROOTED)("as root, with a namespace and a cgroup of its own", () => {
    const holder = spawn("unshare", ["--net", "--", "sleep", "60"], { stdio: "ignore" });
    const group = join("/sys/fs/cgroup/pids/lectern", `${process.pid}-enter-test`);
    afterAll(() => {
      holder.kill("SIGKILL");
      try {
        rmdirSync(group);
      } catch {
        // Already gone.
      }
    });

    it("runs its command in the cgroup and the namespace, with SIGTERM ignored", async () => {
      mkdirSync(group, { recursive: true });
      const helper = (await buildEnter())!;
      // unshare has made the namespace once sleep runs in it.
      for (let i = 0; i < 100 && readlinkSync(`/proc/${holder.pid}/ns/net`) === readlinkSync("/proc/self/ns/net"); i++) await new Promise((r) => setTimeout(r, 20));
      const ns = readlinkSync(`/proc/${holder.pid}/ns/net`);
      expect(ns).not.toBe(readlinkSync("/proc/self/ns/net"));
      // SigIgn: the mask of ignored signals; SIGTERM (15) is its bit 14.
      const script = "grep ':pids:' /proc/self/cgroup; readlink /proc/self/ns/net; grep SigIgn /proc/self/status";
      const { code, stdout } = await run(helper, [`--net=/proc/${holder.pid}/ns/net`, "--ignore-term", group, "--", "/bin/sh", "-c", script]);
      expect(code).toBe(0);
      const [cgroup, net, ignored] = stdout.trim().split("\n");
      expect(cgroup).toMatch(new RegExp(`:pids:/lectern/${process.pid}-enter-test$`));
      expect(net).toBe(ns);
      expect(BigInt(`0x${ignored!.split(/\s+/)[1]}`) & (1n << 14n)).toBe(1n << 14n);
    });

    it("does not run its command where it cannot enter the namespace", async () => {
      const helper = (await buildEnter())!;
      const { code, stdout, stderr } = await run(helper, ["--net=/nonexistent/ns/net", group, "--", "/bin/echo", "ran"]);
      expect(code).toBe(125);
      expect(stdout).toBe("");
      expect(stderr).toContain("lectern enter: the page's network namespace: No such file or directory");
    });
  });

  it("starts Lectern's cells: one sees only loopback and its own pids cgroup", async () => {
    await buildEnter();
    const r = await runSource("```sh name=where\ncat /proc/self/cgroup | grep ':pids:' | sed 's/.*-//'\ntail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '\n```\n");
    expect(r.cells[0]).toMatchObject({ status: "passed", reason: null });
    if (ROOTED) expect(r.cells[0]!.output).toBe("where\nlo\n");
  });
});
