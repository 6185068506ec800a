// A program's colours, made readable: a foreground too close to its background (white on the blue
// of ANSI colour 4, a 24-bit colour near black on the dark terminal) is moved towards white or
// black until it has the contrast WCAG asks of text (4.5:1), as terminals with a "minimum contrast
// ratio" do (xterm.js, iTerm2). Only colours are computed here, from numbers; never text.
import type { Color } from "./ansi.ts";

/** The terminal's colours as the stylesheet paints them on screen (assets/lectern.css, --ansi-N). */
const PALETTE = [
  "#7f8794", "#ef6b73", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d7dae0",
  "#8f949e", "#ff8891", "#b5e890", "#f0d58c", "#8cc8ff", "#e0a3f2", "#86dbe5", "#ffffff",
];
/** --out-bg of the light theme: the lighter of the two terminal backgrounds, so the harder one. */
const OUT_BG = "#1c2026";
const OUT_FG = "#e3e6ea";
const STREAM_FG: Record<string, string> = { stderr: "#ff9b94", stdin: "#a5e075" };
const MINIMUM = 4.5;

/** xterm's 256-colour palette above the first 16: a 6x6x6 cube, then 24 greys. */
export function palette256(n: number): string {
  if (n < 16) return PALETTE[n]!;
  const hex = (v: number) => v.toString(16).padStart(2, "0");
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `#${hex(v)}${hex(v)}${hex(v)}`;
  }
  const i = n - 16;
  const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
  return `#${hex(level(Math.floor(i / 36)))}${hex(level(Math.floor(i / 6) % 6))}${hex(level(i % 6))}`;
}

type Rgb = [number, number, number];
const rgb = (hex: string): Rgb => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb;
const toHex = (c: Rgb) => `#${c.map((v) => Math.round(v).toString(16).padStart(2, "0")).join("")}`;

function luminance([r, g, b]: Rgb): number {
  const lin = (v: number) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(rgb(a)), luminance(rgb(b))].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

function resolve(value: Color | "fg" | "bg" | null, fallback: string): string {
  if (value === null) return fallback;
  if (value === "fg") return OUT_FG;
  if (value === "bg") return OUT_BG;
  return typeof value === "number" ? palette256(value) : value;
}

/**
 * The colour to paint a segment's text in instead of its own, or null when its own is readable.
 * `fg` and `bg` are as the segment's style has them after inverse video is applied.
 */
export function readableColor(fg: Color | "fg" | "bg" | null, bg: Color | "fg" | "bg" | null, stream: string): string | null {
  const front = resolve(fg, STREAM_FG[stream] ?? OUT_FG);
  const back = resolve(bg, OUT_BG);
  if (contrast(front, back) >= MINIMUM) return null;
  // Towards whichever end the background is furthest from, in small steps.
  const target: Rgb = contrast("#ffffff", back) >= contrast("#000000", back) ? [255, 255, 255] : [0, 0, 0];
  const from = rgb(front);
  for (let t = 0.1; t < 1; t += 0.1) {
    const mixed = toHex(from.map((v, i) => v + (target[i]! - v) * t) as Rgb);
    if (contrast(mixed, back) >= MINIMUM) return mixed;
  }
  return toHex(target);
}
