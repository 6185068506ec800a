// The one markdown-it configuration, shared by extract (tokens) and render (HTML), so both
// read a page exactly the same way, and the one place a page is parsed.
import MarkdownIt, { type MarkdownIt as Md, type Token } from "markdown-it";

export function createMarkdown(): Md {
  // Raw HTML off: a page's prose cannot inject markup; links only where written out in full.
  const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
  md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
  return md;
}

// Blocks are found with HTML on, as CommonMark finds them: a fence inside an HTML block or
// comment is not a fence. The HTML itself is then made plain text again (below), so the page
// renders as it did with HTML off.
const reader = createMarkdown().set({ html: true });

/**
 * A page's tokens, with blocks where a CommonMark reader finds them. Raw HTML becomes text (an
 * HTML comment is left out, as a browser leaves it out) and a fence's info string is decoded
 * (entities and backslash escapes), as CommonMark says.
 */
export function parseMarkdown(source: string): Token[] {
  const out: Token[] = [];
  for (const token of reader.parse(source, {})) {
    if (token.type === "fence") token.info = reader.utils.unescapeAll(token.info);
    if (token.type === "html_block") {
      if (!/^[ \t]{0,3}<!--/.test(token.content)) out.push(...asParagraph(token));
      continue;
    }
    for (const child of token.children ?? []) if (child.type === "html_inline") child.type = "text";
    out.push(token);
  }
  return out;
}

/** An HTML block as a paragraph of its text, which the renderer escapes like any other. */
function asParagraph(html: Token): Token[] {
  const Token = html.constructor as new (type: string, tag: string, nesting: -1 | 0 | 1) => Token;
  const open = new Token("paragraph_open", "p", 1);
  const inline = new Token("inline", "", 0);
  const text = new Token("text", "", 0);
  const close = new Token("paragraph_close", "p", -1);
  for (const t of [open, inline, close]) {
    t.map = html.map;
    t.level = html.level;
    t.block = true;
  }
  open.hidden = close.hidden = html.hidden;
  text.content = inline.content = html.content.replace(/\n+$/, "");
  inline.children = [text];
  return [open, inline, close];
}
