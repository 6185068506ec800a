// Shared by the browser tests: where Debian's Chromium is, how it is started (driven by
// playwright-core), and a watch on a tab for what must never happen (errors, dialogs, requests
// leaving the site).
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page as Tab } from "playwright-core";

export const CHROMIUM = process.env["LECTERN_CHROMIUM"] ?? "/usr/bin/chromium";
export const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const onCi = Boolean(process.env["CI"]);
export const haveChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** What went wrong on a tab: console errors, uncaught errors, dialogs, requests outside `base`. */
export function watch(tab: Tab, base: string) {
  const problems: string[] = [];
  const requests: string[] = [];
  tab.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  tab.on("dialog", (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  tab.on("request", (r) => {
    requests.push(r.url());
    if (!r.url().startsWith(base)) problems.push(`request outside the site: ${r.url()}`);
  });
  tab.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  return { problems, requests };
}
