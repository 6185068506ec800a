// Save to page: a cell's new code written into its Markdown file, between its fences, and nothing
// else of the file changed: not the other lines, not their line endings, not the `> ` or list
// indentation in front of the cell's own lines. Checked by reading the result back before it is
// written (atomically, runner/atomic.ts).
import { writeAtomic } from "../atomic.ts";
import { decodeUtf8, extractPage } from "../extract/extract.ts";
import { readPageBytes } from "../extract/source.ts";
import { splitLines } from "../doctest/update.ts";
import type { Page } from "../types.ts";

/** Why a save was refused, with the HTTP status the live server answers with. */
export class SaveRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What stands before the fence on its line, as each code line needs it: block-quote markers stay,
 * a list item's marker becomes the spaces it takes up (`- ` opens the item; its lines go on indented).
 */
function containerPrefix(fenceLine: string): string {
  const before = /^[^`~]*/.exec(fenceLine)![0];
  return before.replace(/(^|[\s>])([-+*]|\d{1,9}[.)])(?=\s)/g, (_m, lead: string, marker: string) => lead + " ".repeat(marker.length));
}

/** The page's source with the cell's code replaced; null when the cell is not on the page. */
export function spliceCell(page: Page, name: string, code: string): string | null {
  const cell = page.cells.find((c) => c.name === name);
  if (!cell) return null;
  const [start, end] = page.tokens[cell.token]!.map!;
  const lines = splitLines(page.source);
  const opener = lines[start]!;
  const prefix = containerPrefix(opener.text);
  // A file of one kind of line ending keeps it; the opener's is the one the cell's lines had.
  const eol = opener.eol || "\n";
  const body = code === "" ? [] : code.replace(/\r\n?/g, "\n").replace(/\n$/, "").split("\n");
  const fresh = body.map((text) => ({ text: text === "" ? prefix.trimEnd() : prefix + text, eol }));
  const kept = [...lines.slice(0, start + 1), ...fresh, ...lines.slice(end - 1)];
  return kept.map((l) => l.text + l.eol).join("");
}

/**
 * Writes `code` as cell `name` of the page at `path` (a served page: the caller checked that).
 * Refused (409) when the file no longer has the cell, or when the new text would not read back
 * as exactly this code with every other cell as it was (a line that closes the fence, say).
 */
export async function saveCell(path: string, name: string, code: string): Promise<void> {
  const bytes = await readPageBytes(path);
  const text = decodeUtf8(path, bytes);
  // The decoder drops a byte-order mark; the file keeps it.
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? "\uFEFF" : "";
  const page = extractPage(path, text);
  const next = spliceCell(page, name, code);
  if (next === null) throw new SaveRefused(409, `${path} has no cell "${name}" any more: reload the page`);
  const want = code === "" || code.endsWith("\n") ? code : code + "\n";
  let after: Page;
  try {
    after = extractPage(path, next);
  } catch (err) {
    throw new SaveRefused(409, `not saved: the page would not read back (${(err as Error).message})`);
  }
  const same = after.cells.length === page.cells.length && after.cells.every((c, i) => (c.name === name ? c.code === want.replace(/\r\n?/g, "\n") : c.code === page.cells[i]!.code && c.name === page.cells[i]!.name));
  if (!same) throw new SaveRefused(409, `not saved: this code would change the page's other cells or the cell's own fence (a line such as \`\`\` ends the cell)`);
  await writeAtomic(path, bom + next);
}
