// Page -> Plan: which ports each cell uses and which cells each one waits for, all known
// before anything runs.
import type { PortMemo } from "../cache/memo.ts";
import { LecternError, placeInPage } from "../errors.ts";
import { languageOf } from "../execute/languages.ts";
import { NAME_PATTERN } from "../extract/info.ts";
import { originalPlace } from "./sourcemap.ts";
import type { Cell, Page, Plan, PlannedCell } from "../types.ts";
import { hostEnv } from "../network/spec.ts";

// Port names are spelled like cell names.
export const PORT_NAME = NAME_PATTERN;

/** LECTERN_PORT_<NAME>: the variable that carries a port into a cell's process (cells/lectern.ts reads it the same way). */
export function portEnv(name: string): string {
  return "LECTERN_PORT_" + name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

export async function planPage(page: Page, memo?: PortMemo): Promise<Plan> {
  const used = new Map<Cell, string[]>();
  for (const cell of page.cells) {
    if (languageOf(cell.lang).ports !== null) continue;
    let names = memo?.get(cell.code);
    if (!names) {
      names = await tsPorts(page, cell);
      memo?.set(cell.code, names);
    }
    used.set(cell, names);
  }
  // Other languages may name ports by variable; give them back the spelling the page's TS cells use.
  const spelled = new Map<string, string>();
  for (const names of used.values()) for (const n of names) spelled.set(portEnv(n), n);
  for (const cell of page.cells) {
    const finder = languageOf(cell.lang).ports;
    if (finder) used.set(cell, otherPorts(finder(cell.code, { file: page.path, line: cell.line }), spelled));
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
    return { ...cell, deps, after, together: [], ports: used.get(cell)! };
  });
  checkHosts(page);
  groupCells(page.path, cells);
  checkCycles(page.path, cells);
  return { page, cells, ports };
}

/**
 * host= and host("name") name hosts of the page's network block, known before anything runs: a
 * misspelt one is the page's error at its line, not an address missing when the cell runs.
 */
function checkHosts(page: Page): void {
  const hosts = page.network?.hosts.map((h) => h.name) ?? [];
  const known = (name: string) => hosts.includes(name);
  const list = hosts.length > 0 ? `its hosts: ${hosts.join(", ")}` : "it has no network block";
  for (const cell of page.cells) {
    const where = { file: page.path, line: cell.line };
    if (cell.attrs.host && !known(cell.attrs.host)) throw new LecternError("E_NETWORK", `cell "${cell.name}" runs on host "${cell.attrs.host}", which this page's network does not have (${list})`, where);
    for (const m of cell.code.matchAll(/(?<!\w)(?:lectern_)?host\(\s*["']([^"']*)["']|\bLECTERN_HOST_([A-Z0-9_]+)/g)) {
      const name = m[1] ?? hosts.find((h) => hostEnv(h) === `LECTERN_HOST_${m[2]}`) ?? m[2]!.toLowerCase();
      if (known(name)) continue;
      const line = cell.line + 1 + cell.code.slice(0, m.index).split("\n").length - 1;
      throw new LecternError("E_NETWORK", `cell "${cell.name}" asks for host "${name}", which this page's network does not have (${list})`, { file: page.path, line });
    }
  }
}

/**
 * with= groups: cells that start together, whatever --jobs is. with= goes both ways and joins
 * groups (a with b, b with c: one group of three). A group starts as one, so none of its cells
 * may wait for another of them, and they are skipped together or not at all.
 */
function groupCells(path: string, cells: PlannedCell[]): void {
  const byName = new Map(cells.map((c) => [c.name, c]));
  const groupOf = new Map(cells.map((c) => [c.name, new Set([c.name])]));
  for (const cell of cells) {
    const where = { file: path, line: cell.line };
    for (const other of cell.attrs.with) {
      if (other === cell.name) throw new LecternError("E_ATTR_VALUE", `cell "${cell.name}" runs with itself: with= names the other cells of its group`, where);
      if (!byName.has(other)) {
        const names = cells.map((c) => c.name).join(", ");
        throw new LecternError("E_NEEDS_UNKNOWN", `cell "${cell.name}" runs with "${other}", which this page does not have (its cells: ${names})`, where);
      }
      const [mine, theirs] = [groupOf.get(cell.name)!, groupOf.get(other)!];
      for (const name of theirs) groupOf.set(name, mine.add(name));
    }
  }
  for (const cell of cells) {
    const group = groupOf.get(cell.name)!;
    cell.together = cells.filter((c) => c !== cell && group.has(c.name)).map((c) => c.name);
    const where = { file: path, line: cell.line };
    const other = cell.together.map((n) => byName.get(n)!).find((c) => c.attrs.skip !== cell.attrs.skip);
    if (other && cell.attrs.skip) {
      throw new LecternError("E_ATTR_VALUE", `cell "${cell.name}" is skip, but runs with "${other.name}": skip the whole group or none of it`, where);
    }
    const waited = [...cell.deps, ...cell.after].find((n) => group.has(n));
    if (waited !== undefined) {
      const why = cell.attrs.needs.includes(waited) ? "needs it" : "uses a port it serves";
      throw new LecternError("E_NEEDS_CYCLE", `cell "${cell.name}" runs with "${waited}" but also waits for it (it ${why}): cells that start together cannot wait for each other`, where);
    }
  }
}

/**
 * A cell waits for its needs, and a server for the earlier server of its port, which in turn
 * waits for all of its own clients: none of these may come round to the cell itself. A with=
 * group waits for whatever any of its cells waits for.
 */
function checkCycles(path: string, cells: PlannedCell[]): void {
  const byName = new Map(cells.map((c) => [c.name, c]));
  const clientsOf = (server: string) => cells.filter((c) => c.deps.includes(server)).map((c) => c.name);
  const own = (cell: PlannedCell) => [...cell.deps, ...cell.after, ...cell.after.flatMap(clientsOf)];
  const waitsFor = (cell: PlannedCell) => [cell, ...cell.together.map((n) => byName.get(n)!)].flatMap(own);
  const state = new Map<string, "visiting" | "done">();
  const visit = (cell: PlannedCell, trail: string[]): void => {
    if (state.get(cell.name) === "done") return;
    if (state.get(cell.name) === "visiting") {
      const loop = [...trail.slice(trail.indexOf(cell.name)), cell.name].join(" -> ");
      const grouped = trail.some((n) => byName.get(n)!.together.length > 0) ? " (a with= group waits for what any of its cells waits for)" : "";
      throw new LecternError("E_NEEDS_CYCLE", `these cells wait for each other: ${loop}${grouped}`, { file: path, line: cell.line });
    }
    state.set(cell.name, "visiting");
    for (const dep of waitsFor(cell)) visit(byName.get(dep)!, [...trail, cell.name]);
    state.set(cell.name, "done");
  };
  for (const cell of cells) visit(cell, []);
}

/** Port names a shell cell reads: $LECTERN_PORT_X or ${LECTERN_PORT_X}. */
/** Names a shell, Python or C cell found by its language's row, in the spelling the page's TS cells use. */
function otherPorts(found: string[], spelled: Map<string, string>): string[] {
  const out: string[] = [];
  for (const n of found) {
    const name = spelled.get(portEnv(n)) ?? n;
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

type Node = { type: string; start: number; end: number; loc?: { start: { line: number; column: number } }; [key: string]: unknown };

/** Port names a TypeScript cell passes to port() from "lectern": string literals only. */
async function tsPorts(page: Page, cell: Cell): Promise<string[]> {
  const path = page.path;
  const at: At = (place) => (place ? { file: path, ...placeInPage(page.source, cell, place.line, place.column) } : { file: path, line: cell.line });
  const fail: Fail = (place, message, cause) => new LecternError("E_PORT_DYNAMIC", message, at(place), { cause });
  // Loaded on first use: plans of cells seen before come from the cache's memo.
  const [{ parse }, { transform }] = await Promise.all([import("acorn"), import("esbuild")]);
  let js;
  try {
    js = await transform(cell.code, { loader: "ts", format: "esm", sourcemap: "external", target: "node20", logLevel: "silent" });
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors?.[0];
    const place = first?.location ? { line: first.location.line - 1, column: first.location.column } : null;
    throw new LecternError("E_COMPILE", `cell "${cell.name}" does not compile: ${first?.text ?? String(err)}`, at(place), { cause: err });
  }
  const map = JSON.parse(js.map) as { mappings: string };
  const placeOf = (line: number, column: number): Place | null => {
    const p = originalPlace(map.mappings, line, column);
    return p && { line: p.line - 1, column: p.column };
  };
  const ast = parseForPorts(parse, js.code, placeOf, cell.name, at, fail);
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
  const placeOfNode = (node: Node) => placeOf(node.loc!.start.line, node.loc!.start.column);
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
      throw fail(placeOfNode(node), `cell "${cell.name}": call port("name") itself; under another name Lectern cannot see which port it means before the cell runs`);
    }
    if (node.type !== "CallExpression") return;
    if (!isPortRef(node.callee as Node)) return;
    const arg = (node.arguments as Node[])[0];
    if (!arg || arg.type !== "Literal" || typeof arg.value !== "string") {
      throw fail(placeOfNode(node), `cell "${cell.name}": port() takes the port's name as a string literal, as in port("udp"), so Lectern knows it before the cell runs`);
    }
    if (!PORT_NAME.test(arg.value)) {
      throw fail(placeOfNode(node), `cell "${cell.name}": "${arg.value}" is not a port name: start with a letter; letters, digits, - and _ only`);
    }
    if (!names.includes(arg.value)) names.push(arg.value);
  });
  return names;
}

/** A place in the cell's code, 0-based; `at` makes it a place in the page (null: the fence's own line). */
type Place = { line: number; column: number };
type At = (place: Place | null) => { file: string; line: number; column?: number };
type Fail = (place: Place | null, message: string, cause?: unknown) => LecternError;

/**
 * The cell's compiled code as a tree. esbuild passes on what acorn rejects (a regular expression
 * V8 would refuse, such as /(/ or /a{2,1}/), and acorn gives up on deep nesting: both are the
 * page's to fix, named at its line, never a crash.
 */
function parseForPorts(parse: typeof import("acorn").parse, code: string, placeAt: (line: number, column: number) => Place | null, name: string, at: At, fail: Fail): Node {
  try {
    return parse(code, { ecmaVersion: "latest", sourceType: "module", locations: true, allowAwaitOutsideFunction: true }) as unknown as Node;
  } catch (err) {
    const loc = (err as { loc?: { line: number; column: number } }).loc;
    const place = loc ? placeAt(loc.line, loc.column) : null;
    const what = (err as Error).message.replace(/ \(\d+:\d+\)$/, "");
    if (err instanceof RangeError || /stack space/.test(what)) throw fail(place, `cell "${name}" is nested too deeply for Lectern to find the ports it names: split it into smaller expressions`, err);
    if (err instanceof SyntaxError) {
      throw new LecternError("E_COMPILE", `cell "${name}" does not compile: ${what}`, at(place), { cause: err });
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
