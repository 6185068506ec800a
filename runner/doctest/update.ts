// `lectern test --update`: the actual transcripts written into the cells' `output` blocks,
// every other byte of the page kept as it was.
import { writeAtomic } from "../atomic.ts";
import { readPageBytes } from "../extract/source.ts";
import { lines, literalLine, mergeExpected } from "./expect.ts";
import type { Cell, Page } from "../types.ts";

/**
 * A transcript as an expected block: trailing whitespace gone, port numbers as `{port:NAME}`.
 * Given the block the cell had, only what differs changes: its lines that still match stay.
 */
export function expectedText(output: string, ports: Record<string, number>, previous?: string): string {
  const byNumber = new Map<string, string>();
  for (const [name, port] of Object.entries(ports)) if (!byNumber.has(String(port))) byNumber.set(String(port), name);
  // Escaped first, so the {port:NAME} put in below are the only tokens.
  const literal = (line: string) => literalLine(line).replace(/\d+/g, (digits) => (byNumber.has(digits) ? `{port:${byNumber.get(digits)}}` : digits));
  if (previous !== undefined) return mergeExpected(previous, output, ports, literal);
  return lines(output).map((l) => literal(l) + "\n").join("");
}

/** One physical line of the file with its own line ending (CRLF files stay CRLF). */
export interface Line {
  text: string;
  eol: string;
}

export function splitLines(raw: string): Line[] {
  const out: Line[] = [];
  const re = /([^\r\n]*)(\r\n|\r|\n|$)/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    out.push({ text: m[1]!, eol: m[2]! });
    if (m[2] === "") break;
  }
  return out;
}

/** What stands before a fence on its line: list indentation, `> ` markers. */
function containerPrefix(fenceLine: string): string {
  const m = /^(.*?)(`{3,}|~{3,})[ \t]*$/.exec(fenceLine);
  return m ? m[1]! : (/^[\s>]*/.exec(fenceLine)?.[0] ?? "");
}

/** The lines of an `output` block for `text`, behind `prefix`, with a fence no line inside can close. */
export function outputBlock(text: string, prefix: string): string[] {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  const body = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  // An empty line inside a block quote keeps its `>`; inside a list item it is just empty.
  return [prefix + fence + "output", ...body.map((l) => (l === "" ? prefix.trimEnd() : prefix + l)), prefix + fence];
}

/**
 * The page's text with each given cell's `output` block replaced, or added right after the
 * cell where it has none. `raw` is the file as read (BOM, CRLF and all); `page` was parsed from it.
 */
export function rewriteBlocks(raw: string, page: Page, updates: { cell: Cell; text: string }[]): string {
  const file = splitLines(raw);
  const eolOf = file.find((l) => l.eol !== "")?.eol ?? "\n";
  const edits = updates.map(({ cell, text }) => {
    const cellMap = page.tokens[cell.token]!.map!;
    const closing = file[cellMap[1] - 1]!;
    const prefix = containerPrefix(closing.text);
    const block = outputBlock(text, prefix);
    if (cell.expected) {
      const map = page.tokens[cell.expected.token]!.map!;
      return { from: map[0], to: map[1], block };
    }
    return { from: cellMap[1], to: cellMap[1], block };
  });
  // From the bottom up, so earlier line numbers stay valid.
  edits.sort((a, b) => b.from - a.from);
  for (const { from, to, block } of edits) {
    // A cell that ends the file without a newline gets one before its new block.
    if (from > 0 && file[from - 1]!.eol === "") file[from - 1]!.eol = eolOf;
    // The block's last line ends as the line it replaces did; an added block at the very end
    // of a file that had no final newline gets none either.
    const finalEol = to > from ? file[to - 1]!.eol : from < file.length ? eolOf : "";
    const added = block.map((text, i) => ({ text, eol: i < block.length - 1 ? eolOf : finalEol }));
    file.splice(from, to - from, ...added);
  }
  return file.map((l) => l.text + l.eol).join("");
}

export type UpdateOutcome = "written" | "changed";

/**
 * Writes the new blocks into the page's file, atomically. A page edited on disk while its
 * cells ran is left alone ("changed"), so the user's edit is never lost.
 */
export async function updatePage(page: Page, updates: { cell: Cell; text: string }[]): Promise<UpdateOutcome> {
  const raw = (await readPageBytes(page.path)).toString("utf8");
  if ((raw.startsWith("\uFEFF") ? raw.slice(1) : raw) !== page.source) return "changed";
  await writeAtomic(page.path, rewriteBlocks(raw, page, updates));
  return "written";
}
