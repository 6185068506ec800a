// Where a page's figures go: its network block's figure in place of its fence, and its trace
// diagrams (trace/diagram.ts draws them) in place of each ```trace fence, or after the last cell
// of each group of cells that talked. The markdown-it rules (rules.ts) put them there.
import type { Token } from "markdown-it";
import { traceDiagram, traceSourceOf } from "../trace/diagram.ts";
import { eventsOf, pageTrace, traceGroups } from "../trace/trace.ts";
import type { Cell, Page, PageResult } from "../types.ts";
import { escapeHtml } from "./html.ts";
import { networkFigure } from "./network.ts";
import type { RenderState } from "./rules.ts";

/**
 * Where the page's network diagrams go: each ```trace fence shows its cells' events; a page
 * without any gets one diagram per group of cells that talked, after the group's last cell.
 *
 * Events of different runs are never drawn together: their times count from different starts,
 * and their ports differ. (A server that ran again for one client has a new port, while its
 * other clients' cached results still talk to the old one.) A fence draws the latest run of
 * its cells, and names the cells it leaves out.
 */
export function diagrams(page: Page, result: PageResult | null, prefix: string, capture?: string): Pick<RenderState, "traces" | "afterCell"> {
  const source = traceSourceOf(result, capture);
  const traces = new Map<Token, string>();
  // The network block: what it describes, in place of its fence.
  const netToken = page.network && page.tokens.find((t) => t.type === "fence" && t.map?.[0] === page.network!.line - 1);
  if (netToken) traces.set(netToken, networkFigure(page.network!, netToken.content));
  const afterCell = new Map<Cell, string>();
  const events = result ? pageTrace(result) : [];
  const order = page.cells.map((c) => c.name);
  const runOf = new Map(result?.cells.map((c) => [c.name, c.ranAt ?? ""]));
  const traced = [...new Set(events.map((e) => e.cell))];
  // Latest run first.
  const runs = [...new Set(traced.map((c) => runOf.get(c) ?? ""))].sort().reverse();
  const ofRun = (run: string) => events.filter((e) => (runOf.get(e.cell) ?? "") === run);
  page.traces.forEach((t, i) => {
    const named = (t.cells ?? order).filter((c) => traced.includes(c));
    const run = runs.find((r) => named.some((c) => runOf.get(c) === r)) ?? "";
    const earlier = named.filter((c) => runOf.get(c) !== run);
    const drawn = named.filter((c) => runOf.get(c) === run);
    const diagram = drawn.length > 0 ? traceDiagram(eventsOf(ofRun(run), drawn), `${prefix}trace-${i + 1}`, order, source) : "";
    const note = earlier.length > 0 ? `<p class="trace-empty">Not drawn with them: ${escapeHtml(earlier.join(", "))}, whose result${earlier.length > 1 ? "s come" : " comes"} from an earlier run (cached). <code>lectern build --rerun</code> runs them together.</p>\n` : "";
    const none = `<p class="trace-empty">No network events recorded${t.cells ? ` for ${escapeHtml(t.cells.join(", "))}` : ""}.</p>\n`;
    traces.set(page.tokens[t.token]!, diagram || note ? diagram + note : none);
  });
  if (page.traces.length === 0) {
    let n = 0;
    for (const run of runs) {
      const mine = ofRun(run);
      for (const group of traceGroups(mine, order)) {
        const last = page.cells.filter((c) => group.includes(c.name)).at(-1)!;
        afterCell.set(last, (afterCell.get(last) ?? "") + traceDiagram(eventsOf(mine, group), `${prefix}trace-${++n}`, order, source));
      }
    }
  }
  return { traces, afterCell };
}
