// A live preview: the site kept in memory and served on loopback; saving a page re-plans it,
// reruns only the cells whose key changed, re-renders, and tells open browsers to reload.
import { watch, type FSWatcher } from "node:fs";
import { createServer, type RequestListener, type Server, type ServerResponse } from "node:http";
import { dirname, resolve } from "node:path";
import { LecternError } from "../errors.ts";
import type { ExecuteOptions } from "../execute/execute.ts";
import { pageOptions } from "./settings.ts";
import { formatWarning, lintPlan } from "../plan/lint.ts";
import { readPage } from "../extract/extract.ts";
import { planPage } from "../plan/plan.ts";
import { runCached } from "../cache/rebuild.ts";
import { writeSite } from "../render/site.ts";
import type { PageResult, Plan } from "../types.ts";

const TYPES: Record<string, string> = { html: "text/html; charset=utf-8", css: "text/css; charset=utf-8", js: "text/javascript; charset=utf-8", svg: "image/svg+xml" };

// Only served pages load this, from the preview itself: the pages' Content-Security-Policy
// allows scripts of the site ('self'), and for the preview also the connection back.
const RELOAD_JS = `new EventSource("/__lectern/events").onmessage = () => location.reload();\n`;
const RELOAD_TAG = `<script src="/__lectern/reload.js"></script>`;

/** A built page as the preview serves it: with the reload script, and allowed to connect back. */
function preview(html: string): string {
  return html.replace("default-src 'none';", "default-src 'none'; connect-src 'self';").replace("</body>", `${RELOAD_TAG}</body>`);
}

export interface Preview {
  url: string;
  /** Resolves after each rebuild (for tests and logs): the paths that were rebuilt. */
  onRebuild(listener: (paths: string[]) => void): void;
  close(): Promise<void>;
}

export interface ServeOptions {
  host: string;
  port: number;
  execute: ExecuteOptions;
  log: (line: string) => void;
}

/** Answers from the pages in memory, and keeps the reload channel of each open page. */
function respond(files: Map<string, string>, clients: Set<ServerResponse>): RequestListener {
  return (req, res) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "") || "index.html";
    } catch {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end("bad request\n");
      return;
    }
    if (path === "__lectern/reload.js") {
      res.writeHead(200, { "content-type": TYPES.js!, "cache-control": "no-store" }).end(RELOAD_JS);
      return;
    }
    if (path === "__lectern/events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      res.write(": connected\n\n");
      clients.add(res);
      req.on("close", () => clients.delete(res));
      return;
    }
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    const ext = path.slice(path.lastIndexOf(".") + 1);
    res.writeHead(200, { "content-type": TYPES[ext] ?? "application/octet-stream", "cache-control": "no-store" });
    res.end(ext === "html" ? preview(body) : body);
  };
}

export async function serve(plans: Plan[], options: ServeOptions): Promise<Preview> {
  const files = new Map<string, string>();
  const current = new Map<string, { plan: Plan; result: PageResult }>();
  const clients = new Set<ServerResponse>();
  const listeners: ((paths: string[]) => void)[] = [];

  const render = async () => {
    const next = new Map<string, string>();
    const pages = plans.map((p) => current.get(p.page.path)!).map(({ plan, result }) => ({ page: plan.page, result }));
    await writeSite("", pages, async (path, data) => void next.set(path, data));
    files.clear();
    for (const [k, v] of next) files.set(k, v);
  };

  const runPage = async (plan: Plan) => {
    const { result } = await runCached(plan, pageOptions(plan, options.execute), "use");
    current.set(plan.page.path, { plan, result: result! });
  };
  for (const plan of plans) await runPage(plan);
  await render();

  const server: Server = createServer(respond(files, clients));
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(options.port, options.host, () => ok());
  });
  const address = server.address() as { port: number };

  let busy: Promise<void> = Promise.resolve();
  const byFile = new Map(plans.map((p, i) => [resolve(p.page.path), i]));
  const rebuild = async (changed: string[]) => {
    const rebuilt: string[] = [];
    for (const file of changed) {
      const i = byFile.get(file)!;
      const path = plans[i]!.page.path;
      try {
        const plan = await planPage(await readPage(path));
        for (const w of await lintPlan(plan)) options.log(`lectern: ${formatWarning(w)}`);
        plans[i] = plan;
        await runPage(plan);
        rebuilt.push(path);
      } catch (err) {
        if (!(err instanceof LecternError)) throw err;
        // The page as it was stays served until the mistake is mended.
        options.log(`lectern: ${err.report()}`);
      }
    }
    if (rebuilt.length === 0) return;
    await render();
    options.log(`rebuilt ${rebuilt.join(", ")}`);
    for (const res of clients) res.write("data: reload\n\n");
    for (const l of listeners) l(rebuilt);
  };
  const watcher = watchPages([...byFile.keys()], (changed) => {
    busy = busy.then(() => rebuild(changed)).catch((err) => options.log(`lectern: rebuild failed: ${(err as Error).message}`));
  });

  return {
    url: `http://${options.host}:${address.port}/`,
    onRebuild: (listener) => void listeners.push(listener),
    async close() {
      watcher.close();
      for (const res of clients) res.end();
      // Half-sent requests and idle keep-alive connections must not hold the stop up.
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      await closed;
      await busy;
    },
  };
}

/** Calls `onChange` with the files saved, once a burst of events has settled. */
function watchPages(files: string[], onChange: (changed: string[]) => void): { close(): void } {
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  // Editors save by writing a new file and renaming it over the old one, so watch folders.
  const watchers: FSWatcher[] = [...new Set(files.map((f) => dirname(f)))].map((dir) =>
    watch(dir, (_event, name) => {
      const file = name ? resolve(dir, name.toString()) : null;
      if (!file || !files.includes(file)) return;
      pending.add(file);
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        const changed = [...pending];
        pending.clear();
        onChange(changed);
      }, 100);
    }),
  );
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
