// Terminal output -> lines of styled text, as a terminal would leave them on screen: SGR colours
// and OSC 8 links kept, `\r`, backspace, tabs, erase-line and cursor moves applied, every other
// escape sequence and control character dropped. Produces plain data; output.ts makes the HTML.
import { httpUrl } from "./html.ts";
import { applySgr, PLAIN, type Pen } from "./sgr.ts";
import type { Stream } from "../types.ts";

/** A palette index 0-255, or `#rrggbb` from a 24-bit colour. */
export type Color = number | string;

export interface Style {
  stream: Stream;
  fg: Color | null;
  bg: Color | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  strike: boolean;
  inverse: boolean;
  /** An http(s) URL from an OSC 8 hyperlink; no other scheme gets this far. */
  href: string | null;
}

export interface Segment {
  text: string;
  style: Style;
}

export type Line = Segment[];

interface StreamState {
  stream: Stream;
  pen: Pen;
  href: string | null;
  /** An escape sequence cut off at the end of the last chunk, completed by the next. */
  pending: string;
  styleId: number;
}

/** A line of the screen: a character and a style id per column. */
type Row = { chars: string[]; styles: number[] };

// Cursor moves and tabs may pad a line with spaces; this much padding in all, so a few bytes of
// `ESC[999C` cannot turn into megabytes of HTML.
const PAD_BUDGET = 64 * 1024;
const MAX_COLUMN = 4096;
// A string sequence (OSC, DCS, ...) longer than this that never ends is not one: its introducer is dropped.
const MAX_STRING = 4096;

const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
const CSI_BODY = /([0-?]*)([ -/]*)([@-~])?/y;
const ESC_BODY = /[ -/]*([0-~])?/y;
const STRING_END = /\x07|\x1b\\|\x9c/g;

/** A screen that only grows downwards: what `feed` writes, `lines` returns. */
export class Terminal {
  private rows: Row[] = [{ chars: [], styles: [] }];
  private row = 0;
  private col = 0;
  private padBudget = PAD_BUDGET;
  private styles: Style[] = [];
  private styleIds = new Map<string, number>();
  private streams = new Map<Stream, StreamState>();

  feed(stream: Stream, chunk: string): void {
    const state = this.state(stream);
    const text = state.pending + chunk;
    state.pending = "";
    let i = 0;
    while (i < text.length) {
      CONTROL.lastIndex = i;
      const m = CONTROL.exec(text);
      const end = m ? m.index : text.length;
      if (end > i) this.write(text.slice(i, end), state);
      if (!m) break;
      const next = this.control(text, end, state);
      if (next === null) {
        state.pending = text.slice(end);
        break;
      }
      i = next;
    }
  }

  /** The screen as lines of segments; after a final newline, the last line is empty. */
  lines(): Line[] {
    return this.rows.map(({ chars, styles }) => {
      const line: Line = [];
      let start = 0;
      for (let i = 1; i <= chars.length; i++) {
        if (i === chars.length || styles[i] !== styles[start]) {
          line.push({ text: chars.slice(start, i).join(""), style: this.styles[styles[start]!]! });
          start = i;
        }
      }
      return line;
    });
  }

  private state(stream: Stream): StreamState {
    let state = this.streams.get(stream);
    if (!state) {
      state = { stream, pen: { ...PLAIN }, href: null, pending: "", styleId: -1 };
      this.streams.set(stream, state);
    }
    return state;
  }

  private styleOf(state: StreamState): number {
    if (state.styleId >= 0) return state.styleId;
    const style: Style = { stream: state.stream, ...state.pen, href: state.href };
    const key = JSON.stringify(style);
    let id = this.styleIds.get(key);
    if (id === undefined) {
      id = this.styles.push(style) - 1;
      this.styleIds.set(key, id);
    }
    state.styleId = id;
    return id;
  }

  private write(text: string, state: StreamState): void {
    const style = this.styleOf(state);
    const row = this.rows[this.row]!;
    if (this.col > row.chars.length) {
      const pad = Math.min(this.col - row.chars.length, this.padBudget);
      this.padBudget -= pad;
      this.col = row.chars.length + pad;
      for (let k = 0; k < pad; k++) {
        row.chars.push(" ");
        row.styles.push(0);
      }
    }
    for (const ch of text) {
      if (this.col < row.chars.length) {
        row.chars[this.col] = ch;
        row.styles[this.col] = style;
      } else {
        row.chars.push(ch);
        row.styles.push(style);
      }
      this.col++;
    }
  }

  /** Handles the control character at `at`; returns where to go on, or null when the sequence is cut off. */
  private control(text: string, at: number, state: StreamState): number | null {
    const c = text[at]!;
    switch (c) {
      case "\n":
        this.row++;
        this.col = 0;
        if (this.row === this.rows.length) this.rows.push({ chars: [], styles: [] });
        return at + 1;
      case "\r":
        this.col = 0;
        return at + 1;
      case "\b":
        this.col = Math.max(0, this.col - 1);
        return at + 1;
      case "\t":
        this.moveTo(Math.floor(this.col / 8) * 8 + 8);
        return at + 1;
      case "\x1b":
        return this.escape(text, at, state);
      case "\x9b":
        return this.csi(text, at + 1, state);
      case "\x9d":
      case "\x90":
      case "\x98":
      case "\x9e":
      case "\x9f":
        return this.stringSequence(text, at + 1, c === "\x9d", state);
      default:
        return at + 1; // BEL, NUL, DEL and the other C0/C1 controls: nothing on screen.
    }
  }

  private escape(text: string, at: number, state: StreamState): number | null {
    const kind = text[at + 1];
    if (kind === undefined) return null;
    if (kind === "[") return this.csi(text, at + 2, state);
    if ("]PX^_".includes(kind)) return this.stringSequence(text, at + 2, kind === "]", state);
    ESC_BODY.lastIndex = at + 1;
    const m = ESC_BODY.exec(text)!;
    if (m[0] === "c") this.sgr("0", state); // a full reset ends the colours too
    if (m[1] !== undefined) return ESC_BODY.lastIndex; // ESC 7, ESC ( B ...: dropped
    return ESC_BODY.lastIndex === text.length ? null : ESC_BODY.lastIndex; // broken: drop what was read
  }

  private csi(text: string, from: number, state: StreamState): number | null {
    CSI_BODY.lastIndex = from;
    const m = CSI_BODY.exec(text)!;
    const [, params = "", intermediates = "", final] = m;
    if (final === undefined) return CSI_BODY.lastIndex === text.length ? null : CSI_BODY.lastIndex;
    // Private (`?25l`) and intermediate-byte sequences change nothing a page can show.
    if (intermediates === "" && !/^[<=>?]/.test(params)) this.command(final, params, state);
    return CSI_BODY.lastIndex;
  }

  // Where the next string terminator in the current text is: found once and reused by every
  // introducer before it, so thousands of unterminated ones cost one scan, not one each.
  private endText: string | null = null;
  private endAt = -1;
  private endLength = 0;

  private stringSequence(text: string, from: number, osc: boolean, state: StreamState): number | null {
    if (this.endText !== text || this.endAt < from) {
      STRING_END.lastIndex = from;
      const m = STRING_END.exec(text);
      this.endText = text;
      this.endAt = m ? m.index : Infinity;
      this.endLength = m ? m[0].length : 0;
    }
    if (this.endAt === Infinity || this.endAt - from > MAX_STRING) return text.length - from > MAX_STRING ? from : null;
    if (osc) this.osc(text.slice(from, this.endAt), state);
    return this.endAt + this.endLength;
  }

  /** OSC 8 ; params ; URI: a hyperlink, kept only for http and https. Other OSCs (titles...) are dropped. */
  private osc(body: string, state: StreamState): void {
    const m = /^8;[^;]*;(.*)$/s.exec(body);
    if (!m) return;
    state.href = m[1] ? httpUrl(m[1]) : null;
    state.styleId = -1;
  }

  private command(final: string, params: string, state: StreamState): void {
    const n = Math.max(1, Number.parseInt(params, 10) || 1);
    const row = this.rows[this.row]!;
    switch (final) {
      case "m":
        return this.sgr(params, state);
      case "K": {
        const mode = params === "" ? 0 : Number.parseInt(params, 10);
        if (mode === 0) row.chars.length = row.styles.length = Math.min(this.col, row.chars.length);
        else if (mode === 1) this.blank(row, 0, this.col + 1);
        else if (mode === 2) row.chars.length = row.styles.length = 0;
        return;
      }
      case "X":
        return this.blank(row, this.col, this.col + n);
      case "A":
        this.row = Math.max(0, this.row - n);
        return;
      case "B":
        this.row = Math.min(this.rows.length - 1, this.row + n);
        return;
      case "E":
      case "F":
        this.row = final === "E" ? Math.min(this.rows.length - 1, this.row + n) : Math.max(0, this.row - n);
        this.col = 0;
        return;
      case "C":
      case "a":
        return this.moveTo(this.col + n);
      case "D":
        this.col = Math.max(0, this.col - n);
        return;
      case "G":
      case "`":
        return this.moveTo(n - 1);
      default:
        return; // screen-absolute moves, clears, scrolling, modes: dropped
    }
  }

  private blank(row: Row, from: number, to: number): void {
    for (let k = from; k < Math.min(to, row.chars.length); k++) {
      row.chars[k] = " ";
      row.styles[k] = 0;
    }
  }

  private moveTo(col: number): void {
    this.col = Math.min(col, MAX_COLUMN);
  }

  private sgr(params: string, state: StreamState): void {
    state.styleId = -1;
    applySgr(state.pen, params);
  }
}

/** What a terminal shows, without any styling. */
export function stripAnsi(text: string): string {
  const terminal = new Terminal();
  terminal.feed("stdout", text);
  return terminal.lines().map((line) => line.map((s) => s.text).join("")).join("\n");
}

/** Feeds a transcript's chunks through one terminal, as they arrived; no empty last line. */
export function screen(chunks: { stream: Stream; text: string }[]): Line[] {
  const terminal = new Terminal();
  for (const { stream, text } of chunks) terminal.feed(stream, text);
  const lines = terminal.lines();
  return lines.at(-1)?.length === 0 ? lines.slice(0, -1) : lines;
}
