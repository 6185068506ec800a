// The one table of commands and their flags: parsing, validation, `--help` and the defaults
// every command shares all come from it, so a flag cannot be parsed without being documented.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { LecternError } from "../errors.ts";
import type { ExecuteOptions } from "../execute/execute.ts";
import type { Io } from "../io.ts";
import { createLimiter } from "../execute/limit.ts";
import { PORT_NAME } from "../plan/plan.ts";
import { didYouMean } from "../plan/lint.ts";

/** One row of the table: how a flag is parsed and how `--help` shows it. */
export interface Flag {
  type: "string" | "boolean";
  multiple?: boolean;
  /** The placeholder of its value in help: DIR, N, NAME=N. */
  arg?: string;
  help: string;
}

export type Flags = Record<string, Flag>;

/** The flags of every command that runs cells. Add a row here and every such command takes it. */
export const RUN_FLAGS = {
  jobs: { type: "string", arg: "N", help: "cells at once (default: cores x 2; front matter `jobs:` lowers it for a page)" },
  timeout: { type: "string", arg: "S", help: "seconds a cell may run where its page does not say (default 10; front matter `timeout:` and a cell's `timeout=` come first)" },
  cache: { type: "string", arg: "DIR", help: "where results and compiled cells are kept (default .lectern)" },
  "max-output": { type: "string", arg: "SIZE", help: "stop a cell that prints more than this (default 1M)" },
  "allow-net": { type: "string", arg: "HOST[:PORT],...", help: "hosts cells may reach besides loopback; bare: any" },
  "allow-env": { type: "string", arg: "NAME,...", help: "environment variables cells may see; bare: all" },
  "allow-read": { type: "string", arg: "PATH,...", help: "files or folders cells may read besides their page's folder (sandboxed cells)" },
  "allow-write": { type: "string", arg: "PATH,...", help: "files or folders cells may write besides their scratch folder (sandboxed cells)" },
  "require-sandbox": { type: "boolean", help: "fail (exit 2) where cells cannot run in bubblewrap, instead of warning" },
} satisfies Flags;

const JSON_FLAG = { type: "boolean", help: "print one JSON document on stdout" } satisfies Flag;
const NO_SERVERS = { type: "boolean", help: "start none of the page's servers: clients talk to the ports given with --port NAME=N" } satisfies Flag;

export interface CommandSpec {
  /** What follows `lectern NAME` in the usage line, before the options. */
  args: string;
  summary: string;
  flags: Flags;
  example: string;
}

export const COMMANDS = {
  run: {
    args: "PAGE",
    summary: "run a page's cells (or some of them and what they need) and print what each printed",
    flags: {
      cell: { type: "string", multiple: true, arg: "NAME", help: "run this cell and what it needs (repeatable)" },
      port: { type: "string", multiple: true, arg: "NAME=N", help: "use port N for the page's port NAME (repeatable)" },
      "no-servers": NO_SERVERS,
      json: JSON_FLAG,
      trace: { type: "boolean", help: "print the network trace under the run" },
      ...RUN_FLAGS,
    },
    example: "lectern run notebook/lec3-socket-programming.md --cell udp-client",
  },
  build: {
    args: "[PATH]...",
    summary: "run the pages (reusing cached results) and publish them as a static site",
    flags: {
      out: { type: "string", arg: "DIR", help: "where the site goes (default site)" },
      rerun: { type: "boolean", help: "run every cell again, cached or not" },
      frozen: { type: "boolean", help: "run nothing: exit 1 naming the cells whose result is not cached" },
      check: { type: "boolean", help: "exit 1 when a transcript does not match its `output` block" },
      slides: { type: "boolean", help: "also write NAME.slides.html (reveal.js) for every page, not only those with `slides: true`" },
      shard: { type: "string", arg: "K/N", help: "build only share K of N of the pages (stable, by path), for parallel CI jobs" },
      "no-servers": NO_SERVERS,
      port: { type: "string", multiple: true, arg: "NAME=N", help: "use port N for every page's port NAME (repeatable; with --no-servers)" },
      json: JSON_FLAG,
      ...RUN_FLAGS,
    },
    example: "lectern build notebook --out site --jobs 4",
  },
  test: {
    args: "[PATH]...",
    summary: "run the pages and hold every cell to its `output` block, expect= and exit=",
    flags: {
      json: JSON_FLAG,
      junit: { type: "string", arg: "FILE", help: "also write JUnit XML for CI" },
      update: { type: "boolean", help: "write the actual transcripts into the output blocks" },
      ...RUN_FLAGS,
    },
    example: "lectern test notebook --junit report.xml",
  },
  check: {
    args: "[PATH]...",
    summary: "type-check every TypeScript cell and lint the pages, without running anything",
    flags: {
      strict: { type: "boolean", help: "treat lint warnings as errors (exit 2)" },
    },
    example: "lectern check notebook --strict",
  },
  list: {
    args: "PAGE",
    summary: "list a page's cells: line, language, what each waits for, the ports it names",
    flags: { json: JSON_FLAG },
    example: "lectern list notebook/lec3-socket-programming.md",
  },
  grade: {
    args: "PAGE SUBMISSION...",
    summary: "run each student's exercise cells against the page's checks and servers, into a gradebook",
    flags: {
      out: { type: "string", arg: "DIR", help: "where the gradebook goes: grades.csv, grades.xml (JUnit), grades.html (default grades)" },
      "allow-unsandboxed": { type: "boolean", help: "grade where cells cannot run in bubblewrap (students' programs could then read your files and each other's)" },
      ...RUN_FLAGS,
    },
    example: "lectern grade notebook/lab.md submissions/* --out grades --timeout 5",
  },
  serve: {
    args: "[PATH]...",
    summary: "preview the site on loopback as a notebook (Run, edit, Save per cell; open the URL it prints, with its token); saving a page reruns what changed",
    flags: {
      port: { type: "string", arg: "N", help: "the port to serve on (default 4000; 0: any free one)" },
      host: { type: "string", arg: "H", help: "the address to listen on (default 127.0.0.1)" },
      ...RUN_FLAGS,
    },
    example: "lectern serve notebook --port 4000",
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

export function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

/** A usage mistake: exit 2. The command line adds how to get help. */
export const usage = (message: string) => new LecternError("E_USAGE", message);

const flagNames = (flags: Flags) => Object.keys(flags).map((f) => `--${f}`);

/** Parses a command's arguments by its row of the table; `--help` is handled before this. */
export function parse(args: string[], flags: Flags) {
  // Deno-style: a bare --allow-net or --allow-env allows everything.
  const spelled = args.map((a) => (a === "--allow-net" || a === "--allow-env" ? `${a}=*` : a));
  const options = Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, { type: f.type, multiple: f.multiple ?? false }]));
  try {
    return parseArgs({ args: spelled, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage(parseError(err as Error & { code?: string }, flags));
  }
}

/** node:util's parse errors, in our words, with the options the command does take. */
function parseError(err: Error & { code?: string }, flags: Flags): string {
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1] ?? "";
  const name = flag.replace(/=.*$/, "");
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const known = [...flagNames(flags), "--help"];
    const hint = didYouMean(name, known);
    return `unknown option ${name}${hint}; this command takes ${known.join(", ")}`;
  }
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const spec = flags[name.replace(/^--/, "")];
    if (spec?.type === "boolean") return `${name} takes no value`;
    if (spec) return `${name} takes a value: ${name} ${spec.arg ?? "VALUE"}`;
  }
  return err.message;
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

/** --allow-read/--allow-write: folders or files that exist, made absolute (the sandbox binds them). */
function allowedPaths(flag: string, raw: unknown): string[] {
  return list(raw).map((p) => {
    if (!existsSync(p)) throw usage(`${flag}: no such file or folder: ${p}`);
    return resolve(p);
  });
}

/** Bytes, with an optional K or M (powers of 1024): 1M, 512K, 2000000. */
function byteCount(raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  const m = /^(\d+)([KkMm]?)$/.exec(String(raw));
  if (!m || Number(m[1]) === 0) throw usage(`--max-output takes a size such as 1M, 512K or 100000, not "${String(raw)}"`);
  return Number(m[1]) * (m[2] === "" ? 1 : /k/i.test(m[2]!) ? 1024 : 1024 * 1024);
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
