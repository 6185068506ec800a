// Plan -> warnings: mistakes a page can make that are not errors, found before anything runs
// (a port nobody serves, a cell that listens without being a server, a client above its only
// server). `run`, `build` and `test` print them; `check --strict` makes them exit 2.
import type { Plan, PlannedCell } from "../types.ts";

export interface Warning {
  file: string;
  line: number;
  /** The cell it is about. */
  cell: string;
  message: string;
}

export const formatWarning = (w: Warning) => `${w.file}:${w.line}: warning: ${w.message}`;

/** Edit distance with adjacent swaps counted as one edit (`htpp` is one edit from `http`). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** ` (did you mean "x"?)` for the closest candidate within a few edits, else "". */
export function didYouMean(word: string, candidates: string[]): string {
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  let best: { name: string; d: number } | null = null;
  for (const name of candidates) {
    if (name === word) continue;
    const d = editDistance(word.toLowerCase(), name.toLowerCase());
    if (d <= limit && (best === null || d < best.d)) best = { name, d };
  }
  return best ? ` (did you mean "${best.name}"?)` : "";
}

/** The page line where a cell first names a port: its code line, or the fence when not found. */
function portLine(cell: PlannedCell, name: string): number {
  // A port's name as a literal (TypeScript, Python, C), or its variable (shell; getenv in Python and C).
  const literal = [`"${name}"`, `'${name}'`, `\`${name}\``];
  const variable = name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
  const needles = cell.lang === "ts" ? literal : cell.lang === "sh" || cell.lang === "bash" ? [variable] : [...literal, `LECTERN_PORT_${variable}`];
  const i = cell.code.split("\n").findIndex((l) => needles.some((n) => l.includes(n)));
  return i === -1 ? cell.line : cell.line + 1 + i;
}

const expectsFailure = (c: PlannedCell) => c.attrs.expect !== null || c.attrs.exit !== null;

/** A port that one cell uses and no server serves: connecting is refused, unless that is the point. */
function unservedPorts(plan: Plan, listeners: Set<string>): Warning[] {
  const served = new Set(plan.cells.filter((c) => c.attrs.server).flatMap((c) => c.ports));
  const out: Warning[] = [];
  for (const cell of plan.cells) {
    // A cell that listens itself is told to be a server instead.
    if (cell.attrs.server || cell.attrs.skip || expectsFailure(cell) || listeners.has(cell.name)) continue;
    for (const name of cell.ports.filter((p) => !served.has(p))) {
      const others = plan.ports.filter((p) => p !== name);
      const hint = didYouMean(name, [...others.filter((p) => served.has(p)), ...others.filter((p) => !served.has(p))]);
      out.push({
        file: plan.page.path,
        line: portLine(cell, name),
        cell: cell.name,
        message: `cell "${cell.name}" uses port "${name}", which no server cell of this page serves, so nobody will answer${hint}; if that is the point, say so with expect=ECONNREFUSED (or expect=error)`,
      });
    }
  }
  return out;
}

/** A client whose every server of a port comes later: Lectern copes, a reader going down the page does not. */
function serversBelow(plan: Plan): Warning[] {
  const out: Warning[] = [];
  plan.cells.forEach((cell, index) => {
    if (cell.attrs.server || cell.attrs.skip) return;
    for (const name of cell.ports) {
      const servers = plan.cells.filter((c) => c.attrs.server && c.ports.includes(name));
      if (servers.length === 0 || servers.some((s) => plan.cells.indexOf(s) < index)) continue;
      const s = servers[0]!;
      out.push({
        file: plan.page.path,
        line: cell.line,
        cell: cell.name,
        message: `cell "${cell.name}" uses port "${name}", whose only server "${s.name}" comes later in the page (line ${s.line}): Lectern starts it first, but a reader meets the client before its server; move "${s.name}" above it`,
      });
    }
  });
  return out;
}

type Node = { type: string; [key: string]: unknown; loc?: { start: { line: number } } };

/** What a listen()/bind() call listens on, when it is a port a reader can see: a named port or a fixed number. */
function listenTarget(arg: Node | undefined): string | null {
  if (!arg) return null;
  if (arg.type === "Literal" && typeof arg.value === "number" && arg.value > 0) return String(arg.value);
  if (arg.type === "CallExpression") {
    const callee = arg.callee as Node;
    const name = callee.type === "Identifier" ? callee.name : callee.type === "MemberExpression" ? (callee.property as Node).name : null;
    const first = (arg.arguments as Node[])[0];
    if (name === "port" && first?.type === "Literal" && typeof first.value === "string") return `port "${first.value}"`;
  }
  if (arg.type === "ObjectExpression") {
    for (const p of arg.properties as Node[]) {
      const key = p.key as Node | undefined;
      if (p.type === "Property" && key && (key.name === "port" || key.value === "port")) return listenTarget(p.value as Node);
    }
  }
  return null;
}

/** The first socket a TypeScript cell's code listens on (server.listen(...), socket.bind(...)), if any. */
async function listensOn(cell: PlannedCell): Promise<{ what: string; line: number } | null> {
  // Most cells never say either word: they are not parsed at all.
  if (!/\.(listen|bind)\s*\(/.test(cell.code)) return null;
  const [{ parse }, { transform }] = await Promise.all([import("acorn"), import("esbuild")]);
  let ast: Node;
  try {
    // No source map needed: the line is found again in the cell's own code below.
    const js = await transform(cell.code, { loader: "ts", format: "esm", target: "node20", logLevel: "silent" });
    ast = parse(js.code, { ecmaVersion: "latest", sourceType: "module", allowAwaitOutsideFunction: true }) as unknown as Node;
  } catch {
    return null; // code that does not compile is reported by the plan and by `check`
  }
  let found: string | null = null;
  walk(ast, (node) => {
    if (found !== null || node.type !== "CallExpression") return;
    const callee = node.callee as Node;
    if (callee.type !== "MemberExpression") return;
    const method = (callee.property as Node).name;
    if (method === "listen" || method === "bind") found = listenTarget((node.arguments as Node[])[0]);
  });
  if (found === null) return null;
  const what: string = found;
  const needle = what.startsWith("port ") ? what.slice(5) : what;
  const i = cell.code.split("\n").findIndex((l) => /\.(listen|bind)\s*\(/.test(l) && l.includes(needle));
  return { what, line: i === -1 ? cell.line : cell.line + 1 + i };
}

function walk(node: unknown, visit: (node: Node) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit);
  } else if (node && typeof node === "object" && typeof (node as Node).type === "string") {
    visit(node as Node);
    for (const value of Object.values(node)) walk(value, visit);
  }
}

/** A cell that listens but is not marked `server`: Lectern waits for it to end, and its clients do not wait for it. */
async function unmarkedServers(plan: Plan): Promise<Warning[]> {
  const out: Warning[] = [];
  for (const cell of plan.cells) {
    if (cell.lang !== "ts" || cell.attrs.server || cell.attrs.skip || expectsFailure(cell)) continue;
    const found = await listensOn(cell);
    if (!found) continue;
    out.push({
      file: plan.page.path,
      line: found.line,
      cell: cell.name,
      message: `cell "${cell.name}" listens on ${found.what} but is not marked server: Lectern waits for it to end as for a client, and no client waits for it to listen; add "server" to its fence`,
    });
  }
  return out;
}

/** Every warning of a page, in page order. */
export async function lintPlan(plan: Plan): Promise<Warning[]> {
  const listeners = await unmarkedServers(plan);
  const all = [...unservedPorts(plan, new Set(listeners.map((w) => w.cell))), ...serversBelow(plan), ...listeners];
  return all.sort((a, b) => a.line - b.line);
}
