// Expected output <-> actual transcript: the matcher of `output` blocks and the diff shown when
// they differ. A line `...` matches any number of lines, `{port:NAME}` the run's port NAME,
// `{any}` any text within one line; trailing whitespace and CR never count. `\{` is a plain
// `{`, and a line `\...` a plain `...`, so any transcript can be written down exactly.

const ELLIPSIS = "...";
// An escaped brace is matched first, so it is never the start of a token.
const TOKEN = /\\\{|\{any\}|\{port:([^{}\s]+)\}/g;
const ESCAPED_ELLIPSIS = /^\\+\.\.\.$/;

/** A transcript line as an expected line that matches exactly it (what --update writes). */
export function literalLine(line: string): string {
  if (/^\\*\.\.\.$/.test(line)) return "\\" + line;
  return line.replace(/\{(?=any\}|port:[^{}\s]+\})|(?<=\\)\{/g, "\\{");
}

/** Text -> lines as compared: no CR, no trailing whitespace, no trailing blank lines. */
export function lines(text: string): string[] {
  const out = text.split(/\r\n|\r|\n/).map((l) => l.trimEnd());
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  return out;
}

/** Port names an expected block refers to with `{port:NAME}`, in order of first use. */
export function portNames(expected: string): string[] {
  const names: string[] = [];
  for (const m of expected.matchAll(TOKEN)) if (m[1] !== undefined && m[0] !== "\\{" && !names.includes(m[1])) names.push(m[1]);
  return names;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One expected line as a regular expression; a port the run does not have matches nothing. */
export function linePattern(pattern: string, ports: Record<string, number>): RegExp {
  if (ESCAPED_ELLIPSIS.test(pattern)) return new RegExp(`^${escape(pattern.slice(1))}$`, "s");
  let source = "";
  let last = 0;
  for (const m of pattern.matchAll(TOKEN)) {
    source += escape(pattern.slice(last, m.index));
    if (m[0] === "\\{") source += "\\{";
    else if (m[1] === undefined) source += ".*";
    else {
      const port = Object.hasOwn(ports, m[1]) ? ports[m[1]] : undefined;
      // A port is a whole number: 4123 must not match inside 41234.
      source += port === undefined ? "(?!)" : `(?<!\\d)${port}(?!\\d)`;
    }
    last = m.index + m[0].length;
  }
  source += escape(pattern.slice(last));
  return new RegExp(`^${source}$`, "s");
}

/** How expected lines pair with actual lines: the alignment with the fewest differences. */
type Op =
  | { kind: "same"; e: number; a: number }
  | { kind: "skip"; e: number; count: number }
  | { kind: "del"; e: number }
  | { kind: "add"; a: number }
  | { kind: "replace"; e: number; a: number };

/**
 * What each difference costs. For a diff every difference counts 1 and `...` takes lines for
 * free; an update (`mergeExpected`) weighs them otherwise, and may replace a line in place.
 */
interface Weights {
  del: number;
  add: number;
  absorb: number;
  replace?: number;
}
const DIFF: Weights = { del: 1, add: 1, absorb: 0 };

/**
 * Aligns expected (patterns) with actual lines by dynamic programming: a generalised LCS in
 * which a pattern line pairs with an actual line it matches, and `...` absorbs any run of lines.
 */
function align(expected: string[], actual: string[], ports: Record<string, number>, w: Weights = DIFF): { ops: Op[]; cost: number } {
  const n = expected.length;
  const m = actual.length;
  const regexes = expected.map((p) => (p === ELLIPSIS ? null : linePattern(p, ports)));
  // cost[i][j]: fewest differences to align expected[i..] with actual[j..].
  const cost: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n; i >= 0; i--) {
    for (let j = m; j >= 0; j--) {
      if (i === n) {
        cost[i]![j] = (m - j) * w.add;
        continue;
      }
      const re = regexes[i]!;
      if (re === null) {
        // `...` ends here, or takes actual[j] and stays.
        cost[i]![j] = Math.min(cost[i + 1]![j]!, j < m ? cost[i]![j + 1]! + w.absorb : Infinity);
        continue;
      }
      let best = cost[i + 1]![j]! + w.del;
      if (j < m) {
        best = Math.min(best, cost[i]![j + 1]! + w.add);
        if (re.test(actual[j]!)) best = Math.min(best, cost[i + 1]![j + 1]!);
        else if (w.replace !== undefined) best = Math.min(best, cost[i + 1]![j + 1]! + w.replace);
      }
      cost[i]![j] = best;
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    const here = cost[i]![j]!;
    const re = i < n ? regexes[i] : undefined;
    if (i < n && re === null) {
      // `...` takes lines until ending it costs no more than going on.
      let count = 0;
      while (cost[i + 1]![j] !== cost[i]![j]) {
        j++;
        count++;
      }
      ops.push({ kind: "skip", e: i, count });
      i++;
    } else if (i < n && j < m && re!.test(actual[j]!) && cost[i + 1]![j + 1] === here) {
      ops.push({ kind: "same", e: i, a: j });
      i++;
      j++;
    } else if (i < n && j < m && w.replace !== undefined && !re!.test(actual[j]!) && cost[i + 1]![j + 1]! + w.replace === here) {
      ops.push({ kind: "replace", e: i, a: j });
      i++;
      j++;
    } else if (i < n && cost[i + 1]![j]! + w.del === here) {
      ops.push({ kind: "del", e: i });
      i++;
    } else {
      ops.push({ kind: "add", a: j });
      j++;
    }
  }
  return { ops, cost: cost[0]![0]! };
}

/**
 * An expected block brought up to date with a transcript (`test --update`): every line that still
 * matches stays as written (`...`, `{any}` and `{port:NAME}` included), lines that no longer
 * match go, and the transcript's lines that nothing matched come in, as `literal` writes them.
 * The result matches the transcript: the alignment it follows is one of cost 0 once the
 * differences are taken out.
 */
export function mergeExpected(expected: string, actual: string, ports: Record<string, number>, literal: (line: string) => string): string {
  const e = lines(expected);
  const a = lines(actual);
  const out: string[] = [];
  // Dropping a line of the block costs more than any number of added ones: whatever can stay,
  // stays. A line `...` takes costs less than one added (so `...` still stands for what it did),
  // but more than nothing: a line that changed is replaced where it stood, not swallowed by a
  // `...` beside it while its old text goes.
  const drop = 2 * a.length + 1;
  for (const op of align(e, a, ports, { del: drop, add: 2, absorb: 1, replace: drop }).ops) {
    if (op.kind === "skip") out.push(ELLIPSIS);
    else if (op.kind === "same") out.push(e[op.e]!);
    else if (op.kind === "add" || op.kind === "replace") out.push(literal(a[op.a]!));
  }
  return out.map((l) => l + "\n").join("");
}

/** True when the transcript matches the expected block under the run's ports. */
export function matches(expected: string, actual: string, ports: Record<string, number>): boolean {
  return align(lines(expected), lines(actual), ports).cost === 0;
}

/** One displayed line of a diff; `a` is how many actual lines it covers (a `...` covers any number). */
type Row = { mark: " " | "-" | "+"; text: string; a: number };

function rowsOf(ops: Op[], e: string[], a: string[]): Row[] {
  const rows: Row[] = ops.map((op): Row => {
    if (op.kind === "skip") return { mark: " ", text: ELLIPSIS, a: op.count };
    if (op.kind === "same") return { mark: " ", text: e[op.e]!, a: 1 };
    if (op.kind === "del") return { mark: "-", text: e[op.e]!, a: 0 };
    // An add (a diff's alignment never replaces: that would be a "-" and a "+").
    return { mark: "+", text: a[op.a]!, a: 1 };
  });
  // Within a run of changes, the expected lines first, then the actual ones, as diff(1) shows them.
  for (let k = 0; k < rows.length; k++) {
    let end = k;
    while (end < rows.length && rows[end]!.mark !== " ") end++;
    const run = rows.slice(k, end);
    rows.splice(k, run.length, ...run.filter((r) => r.mark === "-"), ...run.filter((r) => r.mark === "+"));
    k = end;
  }
  return rows;
}

/**
 * The difference between an expected block and a transcript as a unified diff (`--- expected`,
 * `+++ actual`, hunks with three lines of context), or null when they match. Context lines
 * show the page's text; the lines a `...` stands for are shown once, as `...`.
 */
export function diffOutput(expected: string, actual: string, ports: Record<string, number>, context = 3): string | null {
  const e = lines(expected);
  const a = lines(actual);
  const { ops, cost } = align(e, a, ports);
  if (cost === 0) return null;
  const rows = rowsOf(ops, e, a);
  const changed = (k: number) => rows[k]!.mark !== " ";
  // Where each row starts, counted in expected and in actual lines.
  const eAt: number[] = [];
  const aAt: number[] = [];
  let eLine = 0;
  let aLine = 0;
  for (const r of rows) {
    eAt.push(eLine);
    aAt.push(aLine);
    eLine += r.mark === "+" ? 0 : 1;
    aLine += r.a;
  }
  eAt.push(eLine);
  aAt.push(aLine);
  const range = (from: number, to: number) => `${to === from ? from : from + 1}${to - from === 1 ? "" : `,${to - from}`}`;
  const out = ["--- expected", "+++ actual"];
  for (let k = 0; k < rows.length; ) {
    if (!changed(k)) {
      k++;
      continue;
    }
    // A hunk: this change, the changes at most 2 x context rows after it, and context around them.
    const start = Math.max(0, k - context);
    let last = k;
    for (let j = k; j < rows.length && j <= last + 2 * context + 1; j++) if (changed(j)) last = j;
    const end = Math.min(rows.length, last + 1 + context);
    out.push(`@@ -${range(eAt[start]!, eAt[end]!)} +${range(aAt[start]!, aAt[end]!)} @@`);
    for (const r of rows.slice(start, end)) out.push(r.mark + r.text);
    k = end;
  }
  return out.join("\n") + "\n";
}
