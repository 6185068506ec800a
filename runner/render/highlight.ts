// Code -> highlighted HTML at build time with highlight.js; no script or stylesheet of its own reaches the page.
import { createRequire } from "node:module";
import type { HLJSApi, LanguageFn } from "highlight.js";
import type { HighlightMemo } from "../cache/memo.ts";
import { escapeHtml } from "./html.ts";

// Loaded on first use: a rebuild whose pages are all unchanged never needs it.
let hljs: HLJSApi | null = null;
function highlighter(): HLJSApi {
  if (hljs) return hljs;
  const require = createRequire(import.meta.url);
  const core = require("highlight.js/lib/core") as HLJSApi;
  for (const lang of ["typescript", "javascript", "bash", "json", "python", "c"]) {
    core.registerLanguage(lang, require(`highlight.js/lib/languages/${lang}`) as LanguageFn);
  }
  hljs = core;
  return core;
}

// A fence's first info word -> the highlight.js grammar; anything else is shown as escaped plain text.
const GRAMMARS: Record<string, string> = {
  ts: "typescript", typescript: "typescript", js: "javascript", javascript: "javascript", mjs: "javascript",
  sh: "bash", bash: "bash", shell: "bash", console: "bash", json: "json",
  python: "python", py: "python", c: "c", h: "c",
};

/** Highlighted code remembered between builds (the cache keeps it): highlighting is most of rendering. */
/**
 * A code block in the wrapper the copy button (assets/lectern.js) attaches to. It scrolls sideways
 * where a line is too long, so it can be focused and scrolled from the keyboard.
 */
export function codeBlock(code: string, lang: string, memo?: HighlightMemo): string {
  const grammar = Object.hasOwn(GRAMMARS, lang) ? GRAMMARS[lang]! : null;
  // highlight.js escapes the code it is given; plain text is escaped here.
  let html: string;
  if (grammar) {
    const key = `${grammar}\0${code}`;
    const known = memo?.get(key);
    html = known ?? highlighter().highlight(code, { language: grammar, ignoreIllegals: true }).value;
    if (known === undefined) memo?.set(key, html);
  } else {
    html = escapeHtml(code);
  }
  const label = lang && /^[\w+#.-]{1,20}$/.test(lang) ? lang : "";
  return (
    `<div class="code"${label ? ` data-lang="${escapeHtml(label)}"` : ""}>` +
    `<pre tabindex="0"><code class="hljs language-${escapeHtml(grammar ?? (label || "text"))}">${html}</code></pre></div>\n`
  );
}
