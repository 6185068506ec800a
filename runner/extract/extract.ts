// Markdown -> Page: the cells of a page, found by markdown-it exactly where a reader sees them.
import { LecternError } from "../errors.ts";
import { cellLang, parseInfo, tokenizeInfo } from "./info.ts";
import { linkExercises } from "./exercises.ts";
import { parseMarkdown } from "./markdown.ts";
import { readPageBytes } from "./source.ts";
import { parseNetwork, type NetworkSpec } from "../network/spec.ts";
import type { Cell, ExpectedOutput, Page, TraceBlock } from "../types.ts";

/** Reads a page from disk (regular files only, see source.ts); bytes that are not UTF-8 are the user's to fix. */
export async function readPage(path: string): Promise<Page> {
  return extractPage(path, decodeUtf8(path, await readPageBytes(path)));
}

/** Decodes strictly, naming the line of the first byte that is not UTF-8. */
export function decodeUtf8(path: string, bytes: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    const bad = firstInvalid(bytes);
    const line = bytes.subarray(0, bad).toString("latin1").split("\n").length;
    throw new LecternError("E_ENCODING", "this page is not UTF-8: save it as UTF-8", { file: path, line }, { cause: err });
  }
}

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence (one pass). */
function firstInvalid(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > b.length) return i;
    for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    // Overlong three-byte forms, surrogates, and code points past U+10FFFF.
    if ((c === 0xe0 && b[i + 1]! < 0xa0) || (c === 0xed && b[i + 1]! > 0x9f) || (c === 0xf0 && b[i + 1]! < 0x90) || (c === 0xf4 && b[i + 1]! > 0x8f)) return i;
    i += n;
  }
  return b.length;
}

/** The cells of a page, with their 1-based fence lines, their code and any expected output. */
export function extractPage(path: string, text: string): Page {
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const tokens = parseMarkdown(source);
  const cells: Cell[] = [];
  const traces: TraceBlock[] = [];
  const names = new Map<string, number>();
  let network: NetworkSpec | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.type !== "fence" || !token.map) continue;
    if (token.info.trim().split(/\s+/)[0] === "trace") {
      traces.push(traceBlock(path, token.info, i, token.map[0] + 1));
      continue;
    }
    if (token.info.trim().split(/\s+/)[0] === "network") {
      const line = token.map[0] + 1;
      if (network) throw new LecternError("E_NETWORK", `this page already has a network block at line ${network.line}: describe every host and link in one`, { file: path, line });
      if (!isClosed(token)) throw new LecternError("E_FENCE_UNCLOSED", `this network block's fence is never closed: end it with ${token.markup}`, { file: path, line });
      network = parseNetwork(path, token.content, line);
      continue;
    }
    const lang = cellLang(token.info);
    if (lang === null) continue;
    const line = token.map[0] + 1;
    const where = { file: path, line };
    if (!isClosed(token)) {
      throw new LecternError("E_FENCE_UNCLOSED", `this cell's fence is never closed: end it with ${token.markup}`, where);
    }
    const { name: given, attrs } = parseInfo(token.info, where);
    const name = given ?? (attrs.solution ? `${attrs.solution}-solution` : `cell-${cells.length + 1}`);
    const earlier = names.get(name);
    if (earlier !== undefined) {
      throw new LecternError("E_NAME_DUPLICATE", `a cell named "${name}" is already at line ${earlier}: give this one another name=`, where);
    }
    names.set(name, line);
    cells.push({ name, line, lang, info: token.info, attrs, code: token.content, token: i, expected: expectedAfter(tokens, i) });
  }
  for (const t of traces) {
    const unknown = t.cells?.find((name) => !names.has(name));
    if (unknown) {
      throw new LecternError("E_NEEDS_UNKNOWN", `this trace names cell "${unknown}", which this page does not have (its cells: ${[...names.keys()].join(", ")})`, { file: path, line: t.line });
    }
  }
  return { path, source, tokens, cells: linkExercises(path, tokens, cells), traces, network };
}

/** ```trace [cells=a,b]: a network diagram of those cells (of all, without cells=). */
function traceBlock(path: string, info: string, token: number, line: number): TraceBlock {
  const where = { file: path, line };
  let cells: string[] | null = null;
  for (const [key, value] of tokenizeInfo(info.trim().slice("trace".length), where)) {
    if (key !== "cells") throw new LecternError("E_ATTR_UNKNOWN", `unknown attribute "${key}": a trace takes cells=a,b`, where);
    if (!value) throw new LecternError("E_ATTR_VALUE", "cells= needs the names of cells, as in cells=udp-server,udp-client", where);
    cells = value.split(",").map((s) => s.trim());
  }
  return { token, line, cells };
}

/** The `output` fence right after the cell's fence, if there is one. */
function expectedAfter(tokens: Page["tokens"], i: number): ExpectedOutput | null {
  const next = tokens[i + 1];
  if (!next || next.type !== "fence" || !next.map || next.info.trim().split(/\s+/)[0] !== "output") return null;
  return { text: next.content, line: next.map[0] + 1, token: i + 1 };
}

/**
 * CommonMark lets a fence run to the end of its container; for a cell that is a mistake. A
 * closed fence's lines are its opener, its content and its closer; an open one has no closer,
 * so its last line is content (markdown-it keeps no other record of it).
 */
export function isClosed(token: Page["tokens"][number]): boolean {
  const [start, end] = token.map!;
  const content = token.content;
  const lines = content === "" ? 0 : content.split("\n").length - (content.endsWith("\n") ? 1 : 0);
  return lines === end - start - 2;
}
