// The one markdown-it configuration, shared by extract (tokens) and render (HTML), so both
// read a page exactly the same way.
import MarkdownIt, { type MarkdownIt as Md } from "markdown-it";

export function createMarkdown(): Md {
  // Raw HTML off: a page's prose cannot inject markup; links only where written out in full.
  const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
  md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
  return md;
}
