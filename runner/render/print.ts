// The whole course as one page, for printing or saving as a PDF (as mdBook's print.html): every
// page's article in reading order, each id prefixed with its page's name so none clashes.
import { escapeHtml } from "./html.ts";
import { documentShell, type PageContext } from "./layout.ts";
import { renderArticle } from "./render.ts";
import type { Page, PageResult } from "../types.ts";

export interface PrintablePage {
  page: Page;
  result: PageResult | null;
  /** Its file name in the site, without .html: the prefix of its ids. */
  name: string;
}

export function renderPrint(pages: PrintablePage[], ctx: PageContext): string {
  const sections = pages.map(({ page, result, name }) => {
    const prefix = `${name}--`;
    // Downloads live beside the page's own file; in print they would be noise.
    const { html } = renderArticle(page, result, { ...ctx, sources: undefined }, prefix);
    return `<section class="print-page" id="${escapeHtml(`page-${name}`)}">\n${html}</section>\n`;
  });
  const intro = `<p class="print-note">Every page of ${escapeHtml(ctx.siteTitle)} on one page: print it, or save it as a PDF.</p>\n`;
  const main = `<div class="print-course">\n${intro}${sections.join("")}</div>\n`;
  return documentShell(ctx, { title: `${ctx.siteTitle}: the whole course`, description: "", toc: "", main, footer: "" });
}
