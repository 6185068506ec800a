// --no-servers: run a page's clients against servers Lectern does not start (the textbook's
// Python server, a server on another machine of the lab), on the ports given with --port.
import type { CellResult, PageResult, Plan, PlannedCell } from "../types.ts";
import { usage } from "./options.ts";

/** The non-server cells that would run: those asked for and the non-server cells they need. */
function clientsToRun(plan: Plan, only: string[] | undefined): PlannedCell[] {
  const byName = new Map(plan.cells.map((c) => [c.name, c]));
  if (!only || only.length === 0) return plan.cells.filter((c) => !c.attrs.server && !c.attrs.skip);
  const out = new Set<PlannedCell>();
  const add = (name: string) => {
    const cell = byName.get(name);
    if (!cell || cell.attrs.server || out.has(cell)) return;
    out.add(cell);
    cell.deps.forEach(add);
  };
  only.forEach(add);
  return [...out];
}

/**
 * The plan with its servers skipped and nobody waiting for them. Every port a client would
 * reach one of the page's servers on must be pinned: otherwise it would talk to nobody.
 */
export function withoutServers(plan: Plan, pinned: Record<string, number>, only?: string[]): Plan {
  const servers = new Set(plan.cells.filter((c) => c.attrs.server).map((c) => c.name));
  for (const name of only ?? []) {
    if (servers.has(name)) throw usage(`--no-servers starts no server, and --cell ${name} is one: ask for its clients instead`);
  }
  const served = new Set(plan.cells.filter((c) => c.attrs.server).flatMap((c) => c.ports));
  for (const cell of clientsToRun(plan, only)) {
    const port = cell.ports.find((p) => served.has(p) && pinned[p] === undefined);
    if (port !== undefined) {
      throw usage(`--no-servers: cell "${cell.name}" talks to port "${port}", which only a server of ${plan.page.path} serves; say where yours listens with --port ${port}=N`);
    }
  }
  const cells = plan.cells.map((c) =>
    servers.has(c.name)
      ? { ...c, attrs: { ...c.attrs, skip: true } }
      : { ...c, deps: c.deps.filter((d) => !servers.has(d)), after: c.after.filter((d) => !servers.has(d)) },
  );
  return { ...plan, cells };
}

/** Says why the servers were skipped, where a reader sees the result. */
export function markNotStarted(result: PageResult, plan: Plan): PageResult {
  const servers = new Set(plan.cells.filter((c) => c.attrs.server).map((c) => c.name));
  const mark = (c: CellResult) => (servers.has(c.name) && c.status === "skipped" ? { ...c, reason: "not started: --no-servers" } : c);
  return { ...result, cells: result.cells.map(mark) };
}
