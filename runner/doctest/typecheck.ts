// Pages -> type errors: every TypeScript cell of every page checked in one TypeScript program,
// each cell an in-memory module beside its page, each diagnostic mapped back to `page.md:LINE:COL`.
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import type * as TS from "typescript";
import { CELLS_DIR } from "../paths.ts";
import { placeInPage } from "../errors.ts";
import type { Cell, Page } from "../types.ts";
import { LANGUAGES } from "../execute/languages.ts";
import { findTool, missingTool } from "../execute/tools.ts";

const RUNTIME = join(CELLS_DIR, "lectern.ts");
// Node's types come with Lectern (a dependency), wherever the pages are.
const TYPE_ROOTS = [dirname(dirname(createRequire(import.meta.url).resolve("@types/node/package.json")))];

export interface CheckDiagnostic {
  page: string;
  cell: string;
  /** 1-based, in the page. */
  line: number;
  /** 1-based, in the page's line (after list indentation and `> ` markers). */
  column: number;
  category: "error" | "warning" | "suggestion" | "message";
  /** TypeScript's number (TS2322), or the other checker's kind: SyntaxError, cc, E_NO_TOOL. */
  code: number | string;
  message: string;
}

export interface CheckResult {
  diagnostics: CheckDiagnostic[];
  /** Cells checked: TypeScript, Python and C, not `nocheck`, not shell. */
  cells: number;
}

/** The compiler options cells are checked with: Node's ESM, top-level await, strict. */
// The compiler is large (about a quarter of a second to load): only `check` loads it.
let ts: typeof TS;
async function loadCompiler(): Promise<void> {
  ts ??= ((await import("typescript")) as unknown as { default: typeof TS }).default;
}

const checkOptions = (): TS.CompilerOptions => ({
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2023.d.ts"],
  module: ts.ModuleKind.ESNext,
  // Cells are bundled by esbuild: resolve the way a bundler does.
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  moduleDetection: ts.ModuleDetectionKind.Force,
  allowImportingTsExtensions: true,
  esModuleInterop: true,
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: ["node"],
  typeRoots: TYPE_ROOTS,
});

/** Where a cell lives in the program: beside its page, so relative imports and packages resolve as when it runs. */
function virtualPath(page: Page, cell: Cell): string {
  return join(dirname(resolve(page.path)), `${basename(page.path)}#${cell.name}.mts`);
}

/** Type-checks the TypeScript cells of the pages in one program, and the other languages' cells with their own checkers. */
export async function checkPages(pages: Page[]): Promise<CheckResult> {
  const [typescript, others] = await Promise.all([checkTypeScript(pages), checkOthers(pages)]);
  return { diagnostics: [...typescript.diagnostics, ...others.diagnostics], cells: typescript.cells + others.cells };
}

/** The cells of the languages whose row has a checker, each language with its own program (python3, cc). */
async function checkOthers(pages: Page[]): Promise<CheckResult> {
  const diagnostics: CheckDiagnostic[] = [];
  let cells = 0;
  for (const [lang, row] of Object.entries(LANGUAGES)) {
    const mine = pages.flatMap((page) => page.cells.filter((c) => c.lang === lang && !c.attrs.nocheck).map((cell) => ({ page, cell })));
    if (!row.check || !row.tool || mine.length === 0) continue;
    cells += mine.length;
    // The program cells run with: the system's, which the sandbox sees, else any on PATH.
    const tool = findTool(row.tool.name, process.env.PATH, false);
    if (!tool) {
      const err = (c: (typeof mine)[number]) => missingTool(row.tool!.name, row.tool!.install, { file: c.page.path, line: c.cell.line });
      for (const c of mine) diagnostics.push({ page: c.page.path, cell: c.cell.name, line: c.cell.line, column: 1, category: "error", code: "E_NO_TOOL", message: err(c).message });
      continue;
    }
    diagnostics.push(...(await row.check(mine, tool)));
  }
  return { diagnostics, cells };
}

async function checkTypeScript(pages: Page[]): Promise<CheckResult> {
  const files = new Map<string, { page: Page; cell: Cell }>();
  for (const page of pages) {
    for (const cell of page.cells) {
      if (cell.lang === "ts" && !cell.attrs.nocheck) files.set(virtualPath(page, cell), { page, cell });
    }
  }
  if (files.size === 0) return { diagnostics: [], cells: 0 };
  await loadCompiler();
  const CHECK_OPTIONS = checkOptions();

  const host = ts.createCompilerHost(CHECK_OPTIONS, true);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  // A cell nested deeper than the compiler's recursion can go (3,000 parentheses) is a diagnostic
  // of its own; the program goes on with an empty module in its place.
  const tooDeep = new Set<string>();
  host.getSourceFile = (name, language, onError, create) => {
    const v = files.get(resolve(name));
    if (!v) return getSourceFile(name, language, onError, create);
    try {
      return ts.createSourceFile(name, v.cell.code, language, true, ts.ScriptKind.TS);
    } catch (err) {
      if (!isStackOverflow(err)) throw err;
      tooDeep.add(resolve(name));
      return ts.createSourceFile(name, "export {};", language, true, ts.ScriptKind.TS);
    }
  };
  host.fileExists = (name) => files.has(resolve(name)) || fileExists(name);
  host.readFile = (name) => files.get(resolve(name))?.cell.code ?? readFile(name);
  const cache = ts.createModuleResolutionCache(host.getCurrentDirectory(), (s) => s, CHECK_OPTIONS);
  host.resolveModuleNameLiterals = (literals, containingFile, redirect, options) =>
    literals.map((literal) => {
      // `lectern` is bundled in from cells/, wherever the page is.
      if (literal.text === "lectern") {
        return { resolvedModule: { resolvedFileName: RUNTIME, extension: ts.Extension.Ts, isExternalLibraryImport: false } };
      }
      return ts.resolveModuleName(literal.text, containingFile, options, host, cache, redirect);
    });

  const program = ts.createProgram({ rootNames: [...files.keys()], options: CHECK_OPTIONS, host });
  const diagnostics: CheckDiagnostic[] = [];
  for (const [path, { page, cell }] of files) {
    if (tooDeep.has(path)) {
      diagnostics.push(tooDeepDiagnostic(page, cell));
      continue;
    }
    const source = program.getSourceFile(path)!;
    try {
      const found = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
      for (const d of found) diagnostics.push(toPage(d, page, cell));
    } catch (err) {
      if (!isStackOverflow(err)) throw err;
      diagnostics.push(tooDeepDiagnostic(page, cell));
    }
  }
  return { diagnostics, cells: files.size };
}

const isStackOverflow = (err: unknown) => err instanceof RangeError && /call stack/i.test(err.message);

/** The compiler ran out of stack on this cell: where it starts, since the compiler cannot say where. */
function tooDeepDiagnostic(page: Page, cell: Cell): CheckDiagnostic {
  const message = "the cell is nested too deeply for the TypeScript compiler (it ran out of stack): split it into smaller expressions";
  return { page: page.path, cell: cell.name, line: cell.line + 1, column: 1, category: "error", code: "RangeError", message };
}

/** A diagnostic at its place in the page: the cell's fence line plus the line in the cell; the column after the container's prefix. */
function toPage(d: TS.Diagnostic, page: Page, cell: Cell): CheckDiagnostic {
  const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
  const { line, column } = placeInPage(page.source, cell, at.line, at.character);
  return {
    page: page.path,
    cell: cell.name,
    line,
    column,
    category: ts.DiagnosticCategory[d.category].toLowerCase() as CheckDiagnostic["category"],
    code: d.code,
    message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
  };
}

/** `page.md:LINE:COL: error TS2322: message (cell NAME)`; a message's further lines follow, indented. */
export function formatDiagnostic(d: CheckDiagnostic): string {
  const [first, ...rest] = d.message.split("\n");
  const code = typeof d.code === "number" ? `TS${d.code}` : d.code;
  const head = `${d.page}:${d.line}:${d.column}: ${d.category} ${code}: ${first} (cell ${d.cell})`;
  return [head, ...rest.map((l) => `  ${l}`)].join("\n");
}

/** The last line of `lectern check`. */
export function checkSummary(result: CheckResult, pages: number): string {
  const n = result.diagnostics.length;
  const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
  return `${n === 0 ? "no errors" : plural(n, "error")} in ${plural(result.cells, "cell")} of ${plural(pages, "page")}`;
}
