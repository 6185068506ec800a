// The command line: run, build, list. Argv, environment and output streams come in as
// arguments, so tests drive it without a terminal; it returns the exit status.
import { readdir, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { LecternError } from "./errors.ts";
import { executePlan, type ExecuteEvent } from "./execute.ts";
import { readPage } from "./extract.ts";
import { createLimiter } from "./limit.ts";
import { planPage, PORT_NAME } from "./plan.ts";
import { formatDuration } from "./render.ts";
import { allOk, jsonList, jsonReport, summaryLine, textCell, textList } from "./report.ts";
import { writeSite } from "./site.ts";
import type { PageResult, Plan } from "./types.ts";

export interface Io {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Aborts when the user presses Ctrl-C or Lectern gets SIGTERM. */
  signal?: AbortSignal;
}

const USAGE = `usage:
  lectern run PAGE [--cell NAME]... [--json] [--port NAME=N]... [--timeout S] [--cache DIR]
  lectern build [PATH]... [--out DIR] [--rerun] [--jobs N] [--cache DIR] [--json]
  lectern list PAGE [--json]
`;

// The variables a cell may see; everything else in the user's environment stays out.
const CELL_ENV = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SHELL"];

function cellEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of CELL_ENV) if (env[key] !== undefined) out[key] = env[key]!;
  return out;
}

const usage = (message: string) => new LecternError("E_USAGE", `${message}\n${USAGE}`);

function parse(args: string[], options: NonNullable<ParseArgsConfig["options"]>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage((err as Error).message);
  }
}

function positiveNumber(flag: string, raw: string | undefined, fallback: number, integer = false): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw usage(`${flag} takes a ${integer ? "whole " : ""}number above 0, not "${raw}"`);
  return n;
}

function pinnedPorts(values: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(v);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !PORT_NAME.test(m[1]!) || !(port > 0 && port < 65536)) throw usage(`--port takes NAME=N with N from 1 to 65535, not "${v}"`);
    out[m[1]!] = port;
  }
  return out;
}

/** Pages named on the command line: files as given, folders as every .md in them, sorted. */
async function collectPages(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new LecternError("E_NO_FILE", "no such page or folder", { file: path });
    }
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((n) => n.endsWith(".md") && !n.startsWith(".")).sort();
      if (names.length === 0) throw new LecternError("E_NO_FILE", "this folder has no .md pages", { file: path });
      out.push(...names.map((n) => join(path, n)));
    } else {
      out.push(path);
    }
  }
  return [...new Set(out)];
}

async function planAll(paths: string[]): Promise<Plan[]> {
  const plans: Plan[] = [];
  for (const path of await collectPages(paths)) plans.push(await planPage(await readPage(path)));
  return plans;
}

/** Progress for a person: finished cells as blocks, and in a terminal one live line of what runs. */
function progress(io: Io, json: boolean) {
  const running = new Set<string>();
  const tty = Boolean(io.stdout.isTTY) && !json;
  const out = json ? io.stderr : io.stdout;
  const redraw = () => {
    if (!tty) return;
    io.stdout.write("\r\x1b[K");
    if (running.size > 0) io.stdout.write(`running: ${[...running].join(", ")}`);
  };
  return (event: ExecuteEvent) => {
    if (json) return;
    if (tty) io.stdout.write("\r\x1b[K");
    if (event.type === "ports" && Object.keys(event.ports).length > 0) {
      out.write(`${event.page}: ports ${Object.entries(event.ports).map(([k, v]) => `${k}=${v}`).join(" ")}\n`);
    } else if (event.type === "start") {
      running.add(event.cell);
      if (!tty) out.write(`… ${event.cell} started\n`);
    } else if (event.type === "ready") {
      running.delete(event.cell);
      running.add(`${event.cell} (listening)`);
      if (!tty) out.write(`… ${event.cell} is listening\n`);
    } else if (event.type === "end") {
      running.delete(event.result.name);
      running.delete(`${event.result.name} (listening)`);
      out.write(textCell(event.page, event.result));
    }
    redraw();
  };
}

async function runCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    cell: { type: "string", multiple: true },
    json: { type: "boolean" },
    port: { type: "string", multiple: true },
    timeout: { type: "string" },
    cache: { type: "string" },
  });
  if (positionals.length !== 1) throw usage("run takes one PAGE");
  const plan = (await planAll(positionals))[0]!;
  const only = values.cell as string[] | undefined;
  const json = Boolean(values.json);
  const onEvent = progress(io, json);
  // A server asked for alone keeps serving until Ctrl-C, as a teacher would expect.
  let ports: Record<string, number> = {};
  const keepServing = only !== undefined && only.every((name) => plan.cells.find((c) => c.name === name)?.attrs.server);
  const result = await executePlan(plan, {
    cacheDir: resolve((values.cache as string | undefined) ?? ".lectern"),
    only,
    pinned: pinnedPorts(values.port as string[] | undefined),
    timeout: positiveNumber("--timeout", values.timeout as string | undefined, 10),
    jobs: createLimiter(availableParallelism() * 2),
    env: cellEnv(io.env),
    maxOutput: 1024 * 1024,
    graceMs: 1000,
    signal: io.signal,
    keepServing,
    onEvent: (event) => {
      onEvent(event);
      if (event.type === "ports") ports = event.ports;
      if (keepServing && event.type === "ready") {
        const mine = plan.cells.find((c) => c.name === event.cell)!.ports.map((n) => `${n}=${ports[n]}`);
        io.stderr.write(`${event.cell} is serving${mine.length ? ` on ${mine.join(" ")}` : ""}; press Ctrl-C to stop it\n`);
      }
    },
  });
  if (json) io.stdout.write(jsonReport([result], "run") + "\n");
  else io.stdout.write(`${summaryLine([result])} (${formatDuration(result.durationMs)})\n`);
  return allOk([result]) ? 0 : 1;
}

async function buildCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: "string" },
    rerun: { type: "boolean" },
    jobs: { type: "string" },
    cache: { type: "string" },
    json: { type: "boolean" },
    timeout: { type: "string" },
  });
  const jobs = positiveNumber("--jobs", values.jobs as string | undefined, availableParallelism() * 2, true);
  const plans = await planAll(positionals.length > 0 ? positionals : ["notebook"]);
  const json = Boolean(values.json);
  const onEvent = progress(io, json);
  const limiter = createLimiter(jobs);
  const options = {
    cacheDir: resolve((values.cache as string | undefined) ?? ".lectern"),
    timeout: positiveNumber("--timeout", values.timeout as string | undefined, 10),
    jobs: limiter,
    env: cellEnv(io.env),
    maxOutput: 1024 * 1024,
    graceMs: 1000,
    signal: io.signal,
    onEvent,
  };
  // Pages run side by side; the shared limiter bounds how many cells run at once.
  const results: PageResult[] = await Promise.all(plans.map((plan) => executePlan(plan, options)));
  const outDir = (values.out as string | undefined) ?? "site";
  const written = await writeSite(outDir, plans.map((plan, i) => ({ page: plan.page, result: results[i]! })));
  if (json) {
    io.stdout.write(jsonReport(results, "build") + "\n");
  } else {
    io.stdout.write(`${summaryLine(results)}\nwrote ${written.length} files to ${outDir}/ (open ${join(outDir, "index.html")})\n`);
  }
  return allOk(results) ? 0 : 1;
}

async function listCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: "boolean" } });
  if (positionals.length !== 1) throw usage("list takes one PAGE");
  const plan = (await planAll(positionals))[0]!;
  io.stdout.write(values.json ? jsonList(plan) + "\n" : textList(plan));
  return 0;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        return await runCommand(rest, io);
      case "build":
        return await buildCommand(rest, io);
      case "list":
        return await listCommand(rest, io);
      case "help":
      case "--help":
      case "-h":
        io.stdout.write(USAGE);
        return 0;
      default:
        throw usage(command === undefined ? "no command given" : `unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof LecternError) {
      io.stderr.write(`lectern: ${err.describe()}\n`);
      return 2;
    }
    throw err;
  }
}
