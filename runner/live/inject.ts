// A built page as `serve` sends it: the same HTML as `build` writes, plus the live notebook's
// stylesheet and script, the page's cells as data for that script, and leave to connect back to
// this server. Nothing here reaches a built site.
import { basename } from "node:path";
import { outputNames, PRINT_PAGE } from "../render/site.ts";
import type { Plan } from "../types.ts";
import type { LiveAsset } from "./bundle.ts";

/** Each page's HTML path in the site (`lec3.html`), as writeSite names it. */
export function pageNames(plans: Plan[]): Map<string, Plan> {
  const home = plans.find((p) => basename(p.page.path).toLowerCase() === "index.md");
  const rest = plans.filter((p) => p !== home);
  const names = outputNames(rest.map((p) => p.page.path), ["index", PRINT_PAGE.replace(".html", "")]);
  const out = new Map<string, Plan>(rest.map((p, i) => [`${names[i]}.html`, p]));
  if (home) out.set("index.html", home);
  return out;
}

/** The page's cells for the script: their code as in the file, to edit, run and reset to. */
function cellData(page: string, plan: Plan | undefined): string {
  const cells = (plan?.cells ?? []).map((c) => ({ name: c.name, lang: c.lang, server: c.attrs.server, skip: c.attrs.skip, code: c.code }));
  // Inside <script>, "</script" or "<!--" in a cell's code must not end the element: < is escaped.
  return JSON.stringify({ page, cells }).replace(/</g, "\\u003c");
}

/** The page with the live notebook in it. */
export function livePage(html: string, page: string, plan: Plan | undefined, assets: LiveAsset[]): string {
  const js = assets.find((a) => a.path.endsWith(".js"))!.path;
  const css = assets.find((a) => a.path.endsWith(".css"))!.path;
  return html
    .replace("default-src 'none';", "default-src 'none'; connect-src 'self';")
    .replace("</head>", `<link rel="stylesheet" href="${css}">\n</head>`)
    .replace("</body>", `<script type="application/json" id="lectern-live">${cellData(page, plan)}</script>\n<script src="${js}"></script>\n</body>`);
}
