// The one table of cell languages: a row says how a cell of that language is compiled, how it is
// run, what program it needs, how it names its ports, and how `lectern check` checks it. A new
// language is a row here (and whatever it needs in cells/), not a change to the runner.
import { dirname, resolve } from "node:path";
import { LecternError } from "../errors.ts";
import type { Cell, Lang } from "../types.ts";
import { compileCell, type Compiled } from "./compile.ts";
import { compileC } from "./native.ts";
import { findTool, type Tool } from "./tools.ts";
import { checkC, checkPython, type CheckedCell } from "../doctest/langcheck.ts";
import type { CheckDiagnostic } from "../doctest/typecheck.ts";

/** What a row needs to say how one cell starts. */
export interface Start {
  cell: Cell;
  page: string;
  /** What compile() gave: the file to run. */
  file: string;
  /** The preload or shell runner (TypeScript and shell cells), Python's support folder (pysupport.ts), else null. */
  support: string | null;
  tool: Tool | null;
  /** node's heap flag when no memory cgroup caps the cell (TypeScript only). */
  heap: string[];
  /** Whether the cell runs inside bubblewrap (then bubblewrap ends it with Lectern). */
  confined: boolean;
}

export interface Language {
  /** The extension of its source as a file (the site offers each cell as one). */
  ext: string;
  /** The program it needs on PATH besides node, and the Debian package that has it. */
  tool: { name: string; install: string } | null;
  /**
   * Reports its own sockets, errors and typed input on the side channel (TypeScript's preload).
   * Every other language is watched from outside: readiness from the socket table, the trace
   * from the wire; its errors from its runtime (cells/python, cells/lectern_rt.c).
   */
  reportsSockets: boolean;
  /** The preload or shell runner compiled from cells/ (the language runs through node), or cells/python as bytecode. */
  support: "preload" | "shell" | "python" | null;
  /** The port names its code uses (literals only); null for TypeScript, whose code plan.ts parses. */
  ports: ((code: string, where: { file: string; line: number }) => string[]) | null;
  compile(cell: Cell, page: string, cacheDir: string, tool: Tool | null): Promise<Compiled>;
  /** `lectern check` for it, with its program; TypeScript is checked by doctest/typecheck.ts, shells not at all. */
  check?: (cells: CheckedCell[], tool: Tool) => Promise<CheckDiagnostic[]>;
  /** The command line and the environment it adds, and the files it must see in the sandbox. */
  command(s: Start): { command: string; args: string[]; env: Record<string, string>; files: string[] };
}

/** `LECTERN_PORT_<NAME>` anywhere in the code (getenv, os.environ, $VAR): the name as written, lower-cased. */
function envPorts(code: string, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(pattern)) {
    const name = m[1]!.toLowerCase();
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * The names passed to a port function (`port("udp")`, `lectern_port("tcp", 0)`): a string literal,
 * or an error at its line, since Lectern must know every port before anything runs.
 */
function callPorts(code: string, call: RegExp, literal: RegExp, where: { file: string; line: number }, what: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(call)) {
    const rest = code.slice(m.index! + m[0].length);
    const lit = literal.exec(rest);
    if (!lit) {
      const line = where.line + 1 + code.slice(0, m.index! + m[0].length).split("\n").length - 1;
      throw new LecternError("E_PORT_DYNAMIC", `${what} must be given the port's name as a string literal, so Lectern knows every port before running`, { file: where.file, line });
    }
    if (!out.includes(lit[2]!)) out.push(lit[2]!);
  }
  return out;
}

const shellCompile = (cell: Cell, page: string, cacheDir: string) => compileCell(cell, page, cacheDir);

const shell: Language = {
  ext: "sh",
  tool: null,
  reportsSockets: false,
  support: "shell",
  ports: (code) => envPorts(code, /\$\{?LECTERN_PORT_([A-Z0-9_]+)/g),
  compile: shellCompile,
  command: (s) => ({ command: process.execPath, args: [s.support!, s.cell.lang, s.file], env: {}, files: [s.file, s.support!] }),
};

export const LANGUAGES: Record<Lang, Language> = {
  ts: {
    ext: "ts",
    tool: null,
    reportsSockets: true,
    support: "preload",
    ports: null,
    compile: (cell, page, cacheDir) => compileCell(cell, page, cacheDir),
    command: (s) => ({ command: process.execPath, args: [...s.heap, "--require", s.support!, s.file], env: {}, files: [s.file, s.support!] }),
  },
  sh: shell,
  bash: shell,
  python: {
    ext: "py",
    tool: { name: "python3", install: "Debian: apt-get install python3" },
    reportsSockets: false,
    support: "python",
    ports: (code, where) => [
      // port() only means lectern's where the cell imports lectern.
      ...(/\blectern\b/.test(code) ? callPorts(code, /(?:^|[^\w.]|\blectern\.)port\s*\(\s*/gm, /^(['"])([^'"\\\n]*)\1\s*[,)]/, where, "port()") : []),
      ...envPorts(code, /LECTERN_PORT_([A-Z0-9_]+)/g),
    ].filter((n, i, all) => all.indexOf(n) === i),
    // Blank lines up to the fence: a traceback's line numbers are the page's.
    compile: (cell, page, cacheDir) => compileCell({ ...cell, code: "\n".repeat(cell.line) + cell.code }, page, cacheDir),
    command: (s) => ({
      // -u: every print reaches the transcript as it happens, in order with stderr.
      command: s.tool!.path,
      args: ["-u", s.file],
      env: {
        // lectern.py and sitecustomize (compiled, in the cache) first, then the page's folder.
        PYTHONPATH: [s.support!, dirname(resolve(s.page))].join(":"),
        // The page's folder and cells/ are read-only in the sandbox: no __pycache__ attempts.
        PYTHONDONTWRITEBYTECODE: "1",
        LECTERN_SOURCE: s.page,
        LECTERN_CELL_FILE: s.file,
        ...(s.confined ? {} : { LECTERN_LIFELINE: "1" }),
      },
      files: [s.file, s.support!],
    }),
    check: checkPython,
  },
  c: {
    ext: "c",
    tool: { name: "cc", install: "Debian: apt-get install gcc" },
    reportsSockets: false,
    support: null,
    ports: (code, where) =>
      [...callPorts(code, /\blectern_port\s*\(\s*/g, /^(")([^"\\\n]*)"\s*[,)]/, where, "lectern_port()"), ...envPorts(code, /LECTERN_PORT_([A-Z0-9_]+)/g)].filter(
        (n, i, all) => all.indexOf(n) === i,
      ),
    compile: (cell, page, cacheDir, tool) => compileC(cell, page, cacheDir, tool!),
    command: (s) => ({ command: s.file, args: [], env: {}, files: [s.file] }),
    check: checkC,
  },
};

export const languageOf = (lang: Lang): Language => LANGUAGES[lang];

/** Which python3 or cc a cell of this language would run with (path, size, time), for a result's key: an upgrade reruns it. */
export function toolStamp(lang: Lang): string {
  const need = LANGUAGES[lang].tool;
  if (!need) return "";
  return findTool(need.name, process.env.PATH, false)?.stamp ?? "missing";
}
