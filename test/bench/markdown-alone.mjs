// The floor for a cached rebuild: a fresh `node` process that reads the pages, renders each with
// markdown-it (Lectern's configuration) and writes the HTML files. Nothing else.
//   node markdown-alone.mjs PAGES_DIR OUT_DIR
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import MarkdownIt from "markdown-it";

const [dir, out] = process.argv.slice(2);
const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
mkdirSync(out, { recursive: true });
for (const name of readdirSync(dir).filter((n) => n.endsWith(".md")).sort()) {
  writeFileSync(join(out, name.replace(/\.md$/, ".html")), md.render(readFileSync(join(dir, name), "utf8")));
}
