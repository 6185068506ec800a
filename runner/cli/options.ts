// Command-line flags -> the options the stages take: parsing, validation, and the defaults
// every command shares, so each command file only says what is its own.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { LecternError } from "../errors.ts";
import type { ExecuteOptions } from "../execute/execute.ts";
import type { Io } from "../io.ts";
import { createLimiter } from "../execute/limit.ts";
import { PORT_NAME } from "../plan/plan.ts";

export const USAGE = `usage:
  lectern run PAGE [--cell NAME]... [--json] [--trace] [--port NAME=N]... [--timeout S] [--cache DIR]
  lectern build [PATH]... [--out DIR] [--rerun | --frozen] [--jobs N] [--cache DIR] [--json] [--timeout S]
  lectern test [PATH]... [--json] [--junit FILE] [--update] [--jobs N] [--cache DIR] [--timeout S]
  lectern check [PATH]...
  lectern list PAGE [--json]
  lectern serve [PATH]... [--port N] [--host H]

commands that run cells also take: [--max-output SIZE] [--allow-net[=HOST[:PORT],...]] [--allow-env[=NAME,...]]
  [--allow-read=PATH,...] [--allow-write=PATH,...] [--require-sandbox]
`;

export const usage = (message: string) => new LecternError("E_USAGE", `${message}\n${USAGE}`);

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse(args: string[], options: Options) {
  // Deno-style: a bare --allow-net or --allow-env allows everything.
  const spelled = args.map((a) => (a === "--allow-net" || a === "--allow-env" ? `${a}=*` : a));
  try {
    return parseArgs({ args: spelled, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage((err as Error).message);
  }
}

export function positiveNumber(flag: string, raw: unknown, fallback: number, integer = false): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw usage(`${flag} takes a ${integer ? "whole " : ""}number above 0, not "${String(raw)}"`);
  }
  return n;
}

export function pinnedPorts(values: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of (values as string[] | undefined) ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(v);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !PORT_NAME.test(m[1]!) || !(port > 0 && port < 65536)) throw usage(`--port takes NAME=N with N from 1 to 65535, not "${v}"`);
    out[m[1]!] = port;
  }
  return out;
}

// The variables a cell may see; everything else in the user's environment stays out.
const CELL_ENV = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SHELL"];

export function cellEnv(env: NodeJS.ProcessEnv, allow: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const keys = allow.includes("*") ? Object.keys(env) : [...CELL_ENV, ...allow];
  for (const key of keys) if (env[key] !== undefined) out[key] = env[key]!;
  return out;
}

function list(raw: unknown): string[] {
  return raw === undefined ? [] : String(raw).split(",").map((s) => s.trim()).filter(Boolean);
}

/** Bytes, with an optional K or M (powers of 1024): 1M, 512K, 2000000. */
function byteCount(raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  const m = /^(\d+)([KkMm]?)$/.exec(String(raw));
  if (!m || Number(m[1]) === 0) throw usage(`--max-output takes a size such as 1M, 512K or 100000, not "${String(raw)}"`);
  return Number(m[1]) * (m[2] === "" ? 1 : /k/i.test(m[2]!) ? 1024 : 1024 * 1024);
}

/** The flags every command that runs cells understands. */
export const RUN_FLAGS = {
  cache: { type: "string" },
  timeout: { type: "string" },
  jobs: { type: "string" },
  "max-output": { type: "string" },
  "allow-net": { type: "string" },
  "allow-env": { type: "string" },
  "allow-read": { type: "string" },
  "allow-write": { type: "string" },
  "require-sandbox": { type: "boolean" },
} satisfies Options;

/** --allow-read/--allow-write: folders or files that exist, made absolute (the sandbox binds them). */
function allowedPaths(flag: string, raw: unknown): string[] {
  return list(raw).map((p) => {
    if (!existsSync(p)) throw usage(`${flag}: no such file or folder: ${p}`);
    return resolve(p);
  });
}

/** Where results and compiled cells are kept: --cache DIR, or .lectern/ in the current folder. */
export function cacheDirOf(values: Record<string, unknown>): string {
  return resolve((values.cache as string | undefined) ?? ".lectern");
}

/** ExecuteOptions from the shared flags; the command adds what is its own. */
export function executeOptions(values: Record<string, unknown>, io: Io): ExecuteOptions {
  return {
    cacheDir: cacheDirOf(values),
    timeout: positiveNumber("--timeout", values.timeout, 10),
    jobs: createLimiter(positiveNumber("--jobs", values.jobs, availableParallelism() * 2, true)),
    env: cellEnv(io.env, list(values["allow-env"])),
    maxOutput: byteCount(values["max-output"], 1024 * 1024),
    graceMs: 1000,
    signal: io.signal,
    allowNet: list(values["allow-net"]),
    allowRead: allowedPaths("--allow-read", values["allow-read"]),
    allowWrite: allowedPaths("--allow-write", values["allow-write"]),
    requireSandbox: Boolean(values["require-sandbox"]),
    warn: (message) => io.stderr.write(message),
  };
}
