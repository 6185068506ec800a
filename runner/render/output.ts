// A cell's transcript -> HTML: the terminal's lines (ansi.ts), escaped, then styled; long ones
// show their first and last lines (the end is where the result or the error is) and fold the
// middle into a <details>, which needs no script. Table-like output keeps its columns.
import { screen, type Color, type Line, type Segment, type Style } from "./ansi.ts";
import { palette256, readableColor } from "./contrast.ts";
import { escapeHtml } from "./html.ts";
import type { Chunk } from "../types.ts";

/** More than this many lines, or characters, and the rest is folded. */
const FOLD_LINES = 40;
const FOLD_CHARS = 12_000;
/** What stays visible of a folded transcript: its first lines, and its last. */
const HEAD_LINES = 20;
const HEAD_CHARS = 3_000;
const TAIL_LINES = 8;
const TAIL_CHARS = 1_500;

/** The transcript as one block: `<div class="output">` with its <pre>s. */
export function transcriptHtml(chunks: Chunk[], extraClass = ""): string {
  const lines = screen(chunks);
  const chars = lines.reduce((n, line) => n + lineLength(line) + 1, 0);
  const table = tableLike(lines);
  const cls = `output${extraClass ? ` ${extraClass}` : ""}${table ? " output-table" : ""}`;
  // Table-like output scrolls sideways inside its block, so the keyboard must be able to reach it.
  // (The newline after <pre> is eaten by the HTML parser, so a transcript's own first blank line survives.)
  const pre = (part: Line[]) => `<pre${table ? ` tabindex="0"` : ""}>\n${part.map(lineHtml).join("\n")}</pre>`;
  if (lines.length <= FOLD_LINES && chars <= FOLD_CHARS) return `<div class="${cls}">${pre(lines)}</div>\n`;
  const [head, rest] = split(lines);
  const [middle, tail] = splitTail(rest);
  const midChars = middle.reduce((n, line) => n + lineLength(line) + 1, 0);
  const what = `${middle.length.toLocaleString("en-US")} more line${middle.length === 1 ? "" : "s"}`;
  const summary = `Show ${what} <span class="size">(${formatSize(midChars)})</span>`;
  const end = tail.length ? pre(tail) : "";
  return `<div class="${cls}">${pre(head)}<details class="more"><summary>${summary}</summary>${pre(middle)}</details>${end}</div>\n`;
}

/** The last lines, as many as fit (at least one line stays in the middle, folded). */
function splitTail(rest: Line[]): [Line[], Line[]] {
  let budget = TAIL_CHARS;
  let n = 0;
  while (n < TAIL_LINES && n < rest.length - 1) {
    const length = lineLength(rest[rest.length - 1 - n]!);
    if (length > budget) break;
    budget -= length + 1;
    n++;
  }
  return [rest.slice(0, rest.length - n), rest.slice(rest.length - n)];
}

/**
 * Columns lined up with runs of spaces, as `ss`, `netstat` or `ls -l` print them: at least three
 * lines, most of them with a gap of two or more spaces between words. Wrapped, they read as nonsense.
 */
function tableLike(lines: Line[]): boolean {
  const text = lines.map((l) => l.map((s) => s.text).join("")).filter((l) => l.trim() !== "");
  if (text.length < 3) return false;
  const gapped = text.filter((l) => /\S {2,}\S/.test(l)).length;
  return gapped >= Math.max(3, text.length * 0.6);
}

/** The first lines, cut inside a line if even those are too long; the cut line goes on in the rest. */
function split(lines: Line[]): [Line[], Line[]] {
  const head: Line[] = [];
  let budget = HEAD_CHARS;
  for (const line of lines.slice(0, HEAD_LINES)) {
    const length = lineLength(line);
    if (length <= budget) {
      head.push(line);
      budget -= length + 1;
      continue;
    }
    if (head.length === 0) {
      const [a, b] = cutLine(line, budget);
      return [[a], [b, ...lines.slice(1)]];
    }
    break;
  }
  return [head, lines.slice(head.length)];
}

function cutLine(line: Line, at: number): [Line, Line] {
  const a: Segment[] = [];
  const b: Segment[] = [];
  let left = at;
  for (const seg of line) {
    const chars = [...seg.text];
    if (left >= chars.length) a.push(seg);
    else if (left <= 0) b.push(seg);
    else {
      a.push({ text: chars.slice(0, left).join(""), style: seg.style });
      b.push({ text: chars.slice(left).join(""), style: seg.style });
    }
    left -= chars.length;
  }
  return [a, b];
}

function lineLength(line: Line): number {
  return line.reduce((n, s) => n + s.text.length, 0);
}

/** One line; every element opened on it is closed on it, so lines can be split between blocks. */
function lineHtml(line: Line): string {
  return line.map(segmentHtml).join("");
}

function segmentHtml({ text, style }: Segment): string {
  let html = escapeHtml(text);
  const { classes, css } = look(style);
  const attrs = `${classes.length ? ` class="${classes.join(" ")}"` : ""}${css ? ` style="${css}"` : ""}`;
  if (style.stream === "stdin") html = `<kbd class="stdin${classes.length ? ` ${classes.join(" ")}` : ""}"${css ? ` style="${css}"` : ""}>${html}</kbd>`;
  else if (attrs) html = `<span${attrs}>${html}</span>`;
  if (style.href) html = `<a class="ansi-link" href="${escapeHtml(style.href)}" rel="nofollow noopener noreferrer">${html}</a>`;
  return html;
}

/**
 * Classes for the 16 named colours (the stylesheet picks them per theme) and the text styles;
 * an inline colour only for 256-colour and 24-bit ones, built from numbers, never from the output.
 */
function look(style: Style): { classes: string[]; css: string } {
  const classes: string[] = [];
  const css: string[] = [];
  if (style.stream === "stderr") classes.push("stderr");
  // Inverse video swaps the colours; a default colour becomes the other default.
  const fg = style.inverse ? (style.bg ?? "bg") : style.fg;
  const bg = style.inverse ? (style.fg ?? "fg") : style.bg;
  color(fg, "fg", "color", classes, css);
  color(bg, "bg", "background-color", classes, css);
  // A colour pair the program chose that cannot be read is made readable (contrast.ts).
  const readable = readableColor(fg, bg, style.stream);
  if (readable) css.push(`color:${readable}`);
  if (style.bold) classes.push("ansi-bold");
  if (style.dim) classes.push("ansi-dim");
  if (style.italic) classes.push("ansi-italic");
  if (style.underline) classes.push("ansi-underline");
  if (style.strike) classes.push("ansi-strike");
  return { classes, css: css.join(";") };
}

function color(value: Color | "fg" | "bg" | null, kind: "fg" | "bg", property: string, classes: string[], css: string[]): void {
  if (value === null) return;
  if (value === "fg" || value === "bg") classes.push(`ansi-${kind}-default-${value}`);
  else if (typeof value === "number" && value < 16) classes.push(`ansi-${kind}-${value}`);
  else css.push(`${property}:${typeof value === "number" ? palette256(value) : value}`);
}

function formatSize(chars: number): string {
  if (chars < 1000) return `${chars} characters`;
  if (chars < 1_000_000) return `${(chars / 1000).toFixed(chars < 10_000 ? 1 : 0)} kB`;
  return `${(chars / 1_000_000).toFixed(1)} MB`;
}
