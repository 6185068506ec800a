// SGR (Select Graphic Rendition) parameters -> the pen a terminal writes with: bold, dim,
// italic, underline, strike, inverse, and 16, 256 and 24-bit colours.
import type { Color, Style } from "./ansi.ts";

export type Pen = Omit<Style, "stream" | "href">;
export const PLAIN: Pen = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, strike: false, inverse: false };

/** Applies an SGR sequence's parameters (`1;31`, `38;5;208`, `38:2::255:0:0`) to the pen. */
export function applySgr(pen: Pen, params: string): void {
  const parts = params === "" ? ["0"] : params.split(";");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    // 38:5:n and 38:2::r:g:b (colon form) or 38;5;n and 38;2;r;g;b (semicolon form).
    if (part.startsWith("38") || part.startsWith("48") || part.startsWith("58")) {
      const sub = part.includes(":") ? part.split(":").slice(1) : null;
      const args = sub ?? parts.slice(i + 1);
      const { color, used } = extendedColor(args, sub !== null);
      if (sub === null) i += used;
      if (part.startsWith("38")) pen.fg = color;
      else if (part.startsWith("48")) pen.bg = color;
      continue;
    }
    const code = part === "" ? 0 : Number.parseInt(part, 10);
    if (code === 0) Object.assign(pen, PLAIN);
    else if (code === 1) pen.bold = true;
    else if (code === 2) pen.dim = true;
    else if (code === 3) pen.italic = true;
    else if (code === 4 || code === 21) pen.underline = true;
    else if (code === 7) pen.inverse = true;
    else if (code === 9) pen.strike = true;
    else if (code === 22) pen.bold = pen.dim = false;
    else if (code === 23) pen.italic = false;
    else if (code === 24) pen.underline = false;
    else if (code === 27) pen.inverse = false;
    else if (code === 29) pen.strike = false;
    else if (code >= 30 && code <= 37) pen.fg = code - 30;
    else if (code === 39) pen.fg = null;
    else if (code >= 40 && code <= 47) pen.bg = code - 40;
    else if (code === 49) pen.bg = null;
    else if (code >= 90 && code <= 97) pen.fg = code - 90 + 8;
    else if (code >= 100 && code <= 107) pen.bg = code - 100 + 8;
    // blink, conceal, fonts, overline...: ignored, the text stays readable
  }
}

/** The colour of a 38/48 parameter: `5;n` from the palette, or `2;r;g;b` (24-bit). */
function extendedColor(args: string[], colon: boolean): { color: Color | null; used: number } {
  const byte = (s: string | undefined) => {
    const v = Number.parseInt(s ?? "", 10);
    return Number.isInteger(v) && v >= 0 && v <= 255 ? v : null;
  };
  if (args[0] === "5") return { color: byte(args[1]), used: 2 };
  if (args[0] === "2") {
    // The colon form may carry a colour-space id before r:g:b.
    const rgb = colon && args.length >= 5 ? args.slice(2, 5) : args.slice(1, 4);
    const [r, g, b] = rgb.map(byte);
    const hex = (v: number) => v.toString(16).padStart(2, "0");
    const color = r != null && g != null && b != null ? `#${hex(r)}${hex(g)}${hex(b)}` : null;
    return { color, used: 4 };
  }
  return { color: null, used: args.length };
}
