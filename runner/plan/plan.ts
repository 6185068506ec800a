// Page -> Plan: which ports each cell uses and which cells each one waits for, all known
// before anything runs.
import { LecternError } from "../errors.ts";
import { NAME_PATTERN } from "../extract/info.ts";
import { originalLine } from "./sourcemap.ts";
import type { Cell, Page, Plan, PlannedCell } from "../types.ts";

// Port names are spelled like cell names.
export const PORT_NAME = NAME_PATTERN;

/** LECTERN_PORT_<NAME>: the variable that carries a port into a cell's process (cells/lectern.ts reads it the same way). */
export function portEnv(name: string): string {
  return "LECTERN_PORT_" + name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** Remembers the port names of code already analysed (the cache keeps them on disk). */
export interface PortMemo {
  get(code: string): string[] | undefined;
  set(code: string, names: string[]): void;
}

export async function planPage(page: Page, memo?: PortMemo): Promise<Plan> {
  const used = new Map<Cell, string[]>();
  for (const cell of page.cells) {
    if (cell.lang !== "ts") continue;
    let names = memo?.get(cell.code);
    if (!names) {
      names = await tsPorts(page.path, cell);
      memo?.set(cell.code, names);
    }
    used.set(cell, names);
  }
  // Shell cells name ports by variable; give them back the spelling the page's TS cells use.
  const spelled = new Map<string, string>();
  for (const names of used.values()) for (const n of names) spelled.set(portEnv(n), n);
  for (const cell of page.cells) {
    if (cell.lang !== "ts") used.set(cell, shellPorts(cell.code, spelled));
  }

  const ports: string[] = [];
  const byEnv = new Map<string, string>();
  for (const cell of page.cells) {
    for (const name of used.get(cell)!) {
      const env = portEnv(name);
      const other = byEnv.get(env);
      if (other !== undefined && other !== name) {
        throw new LecternError("E_PORT_VALUE", `port "${name}" and port "${other}" would share ${env}: rename one`, { file: page.path, line: cell.line });
      }
      if (other === undefined) {
        byEnv.set(env, name);
        ports.push(name);
      }
    }
  }

  const byName = new Map(page.cells.map((c) => [c.name, c]));
  const cells: PlannedCell[] = page.cells.map((cell) => {
    const deps: string[] = [];
    for (const need of cell.attrs.needs) {
      if (need === cell.name) throw new LecternError("E_NEEDS_CYCLE", `cell "${cell.name}" needs itself`, { file: page.path, line: cell.line });
      if (!byName.has(need)) {
        const names = page.cells.map((c) => c.name).join(", ");
        throw new LecternError("E_NEEDS_UNKNOWN", `cell "${cell.name}" needs "${need}", which this page does not have (its cells: ${names})`, { file: page.path, line: cell.line });
      }
      if (!deps.includes(need)) deps.push(need);
    }
    const after: string[] = [];
    const index = page.cells.indexOf(cell);
    for (const port of used.get(cell)!) {
      const servers = page.cells.filter((c) => c.attrs.server && c !== cell && used.get(c)!.includes(port));
      const before = servers.filter((c) => page.cells.indexOf(c) < index).at(-1);
      if (cell.attrs.server) {
        // Two servers of one port cannot listen at once: the later one starts after the earlier has stopped.
        if (before && !after.includes(before.name)) after.push(before.name);
      } else {
        // A client talks to the server of its port above it in the page (or, failing that, below it).
        const server = before ?? servers[0];
        if (server && !deps.includes(server.name)) deps.push(server.name);
      }
    }
    return { ...cell, deps, after, ports: used.get(cell)! };
  });
  checkCycles(page.path, cells);
  return { page, cells, ports };
}

/**
 * A cell waits for its needs, and a server for the earlier server of its port, which in turn
 * waits for all of its own clients: none of these may come round to the cell itself.
 */
function checkCycles(path: string, cells: PlannedCell[]): void {
  const byName = new Map(cells.map((c) => [c.name, c]));
  const clientsOf = (server: string) => cells.filter((c) => c.deps.includes(server)).map((c) => c.name);
  const waitsFor = (cell: PlannedCell) => [...cell.deps, ...cell.after, ...cell.after.flatMap(clientsOf)];
  const state = new Map<string, "visiting" | "done">();
  const visit = (cell: PlannedCell, trail: string[]): void => {
    if (state.get(cell.name) === "done") return;
    if (state.get(cell.name) === "visiting") {
      const loop = [...trail.slice(trail.indexOf(cell.name)), cell.name].join(" -> ");
      throw new LecternError("E_NEEDS_CYCLE", `these cells wait for each other: ${loop}`, { file: path, line: cell.line });
    }
    state.set(cell.name, "visiting");
    for (const dep of waitsFor(cell)) visit(byName.get(dep)!, [...trail, cell.name]);
    state.set(cell.name, "done");
  };
  for (const cell of cells) visit(cell, []);
}

/** Port names a shell cell reads: $LECTERN_PORT_X or ${LECTERN_PORT_X}. */
function shellPorts(code: string, spelled: Map<string, string>): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/\$\{?(LECTERN_PORT_[A-Z0-9_]+)/g)) {
    const name = spelled.get(m[1]!) ?? m[1]!.slice("LECTERN_PORT_".length).toLowerCase();
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

type Node = { type: string; start: number; end: number; loc?: { start: { line: number; column: number } }; [key: string]: unknown };

/** Port names a TypeScript cell passes to port() from "lectern": string literals only. */
async function tsPorts(path: string, cell: Cell): Promise<string[]> {
  const at: At = (line) => ({ file: path, line: line === null ? cell.line : cell.line + line });
  const fail: Fail = (line, message, cause) => new LecternError("E_PORT_DYNAMIC", message, at(line), { cause });
  // Loaded on first use: plans of cells seen before come from the cache's memo.
  const [{ parse }, { transform }] = await Promise.all([import("acorn"), import("esbuild")]);
  let js;
  try {
    js = await transform(cell.code, { loader: "ts", format: "esm", sourcemap: "external", target: "node20", logLevel: "silent" });
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors?.[0];
    throw new LecternError(
      "E_COMPILE",
      `cell "${cell.name}" does not compile: ${first?.text ?? String(err)}`,
      { file: path, line: cell.line + (first?.location?.line ?? 0) },
      { cause: err },
    );
  }
  const map = JSON.parse(js.map) as { mappings: string };
  const ast = parseForPorts(parse, js.code, (line, column) => originalLine(map.mappings, line, column), cell.name, at, fail);
  const direct = new Set<string>();
  const namespaces = new Set<string>();
  for (const stmt of ast.body as Node[]) {
    if (stmt.type !== "ImportDeclaration" || (stmt.source as { value: unknown }).value !== "lectern") continue;
    for (const spec of stmt.specifiers as Node[]) {
      const local = (spec.local as { name: string }).name;
      if (spec.type === "ImportNamespaceSpecifier") namespaces.add(local);
      else if (spec.type === "ImportSpecifier" && (spec.imported as { name?: string; value?: string }).name === "port") direct.add(local);
    }
  }
  const names: string[] = [];
  const lineOf = (node: Node) => originalLine(map.mappings, node.loc!.start.line, node.loc!.start.column);
  const isPortRef = (n: Node | undefined) =>
    !!n &&
    ((n.type === "Identifier" && direct.has(n.name as string)) ||
      (n.type === "MemberExpression" &&
        (n.object as Node).type === "Identifier" &&
        namespaces.has((n.object as Node).name as string) &&
        ((n.property as Node).name === "port" || (n.property as Node).value === "port")));
  walkForPorts(ast, cell.name, fail, (node) => {
    // port handed on under another name would call it where Lectern cannot see the name.
    const aliased =
      (node.type === "VariableDeclarator" && isPortRef(node.init as Node)) ||
      (node.type === "AssignmentExpression" && isPortRef(node.right as Node));
    if (aliased) {
      throw fail(lineOf(node), `cell "${cell.name}": call port("name") itself; under another name Lectern cannot see which port it means before the cell runs`);
    }
    if (node.type !== "CallExpression") return;
    if (!isPortRef(node.callee as Node)) return;
    const arg = (node.arguments as Node[])[0];
    if (!arg || arg.type !== "Literal" || typeof arg.value !== "string") {
      throw fail(lineOf(node), `cell "${cell.name}": port() takes the port's name as a string literal, as in port("udp"), so Lectern knows it before the cell runs`);
    }
    if (!PORT_NAME.test(arg.value)) {
      throw fail(lineOf(node), `cell "${cell.name}": "${arg.value}" is not a port name: start with a letter; letters, digits, - and _ only`);
    }
    if (!names.includes(arg.value)) names.push(arg.value);
  });
  return names;
}

/** A place in the page from a line of the cell's code (null: the fence's own line). */
type At = (line: number | null) => { file: string; line: number };
type Fail = (line: number | null, message: string, cause?: unknown) => LecternError;

/**
 * The cell's compiled code as a tree. esbuild passes on what acorn rejects (a regular expression
 * V8 would refuse, such as /(/ or /a{2,1}/), and acorn gives up on deep nesting: both are the
 * page's to fix, named at its line, never a crash.
 */
function parseForPorts(parse: typeof import("acorn").parse, code: string, lineAt: (line: number, column: number) => number | null, name: string, at: At, fail: Fail): Node {
  try {
    return parse(code, { ecmaVersion: "latest", sourceType: "module", locations: true, allowAwaitOutsideFunction: true }) as unknown as Node;
  } catch (err) {
    const loc = (err as { loc?: { line: number; column: number } }).loc;
    const line = loc ? lineAt(loc.line, loc.column) : null;
    const what = (err as Error).message.replace(/ \(\d+:\d+\)$/, "");
    if (err instanceof RangeError || /stack space/.test(what)) throw fail(line, `cell "${name}" is nested too deeply for Lectern to find the ports it names: split it into smaller expressions`, err);
    if (err instanceof SyntaxError) {
      throw new LecternError("E_COMPILE", `cell "${name}" does not compile: ${what}`, at(line), { cause: err });
    }
    throw err;
  }
}

/** walk, with a tree too deep to walk said at the cell's line rather than crashing Lectern. */
function walkForPorts(ast: Node, name: string, fail: Fail, visit: (node: Node) => void): void {
  try {
    walk(ast, visit);
  } catch (err) {
    if (err instanceof RangeError) throw fail(null, `cell "${name}" is nested too deeply for Lectern to find the ports it names: split it into smaller expressions`, err);
    throw err;
  }
}

function walk(node: unknown, visit: (node: Node) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit);
  } else if (node && typeof node === "object" && typeof (node as Node).type === "string") {
    visit(node as Node);
    for (const key of Object.keys(node)) {
      if (key !== "loc") walk((node as Record<string, unknown>)[key], visit);
    }
  }
}
