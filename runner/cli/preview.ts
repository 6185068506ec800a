// A live preview: the site kept in memory and served on loopback; saving a page re-plans it,
// reruns only the cells whose key changed, re-renders, and tells open browsers to reload. Each
// page is also a notebook (runner/live/): Run, Stop, edit and Save a cell from the browser,
// behind the guard (a secret token, the Host and the Origin checked).
import { watch, type FSWatcher } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { dirname, resolve } from "node:path";
import { LecternError } from "../errors.ts";
import type { ExecuteOptions } from "../execute/execute.ts";
import { pageOptions } from "./settings.ts";
import { formatWarning, lintPlan } from "../plan/lint.ts";
import { readPage } from "../extract/extract.ts";
import { planPage } from "../plan/plan.ts";
import { runCached } from "../cache/rebuild.ts";
import { writeSite } from "../render/site.ts";
import { liveAssets, type LiveAsset } from "../live/bundle.ts";
import { allowedHosts, createGuard, type Guard } from "../live/guard.ts";
import { livePage, pageNames } from "../live/inject.ts";
import { liveRoute, sse } from "../live/routes.ts";
import { LiveRuns } from "../live/runs.ts";
import type { PageResult, Plan } from "../types.ts";
import { pairResults } from "../outcome.ts";

const TYPES: Record<string, string> = { html: "text/html; charset=utf-8", css: "text/css; charset=utf-8", js: "text/javascript; charset=utf-8", svg: "image/svg+xml" };

// On every answer: no page of another site may frame this one (a Run button under a decoy), and
// no type is guessed.
const HEADERS = { "content-security-policy": "frame-ancestors 'none'", "x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };

export interface Preview {
  /** The server's address, ending in `/` (without the token). */
  url: string;
  /** The secret every request needs: `url + "?token=" + token` lets a browser in. */
  token: string;
  /** Resolves after each rebuild (for tests and logs): the paths that were rebuilt. */
  onRebuild(listener: (paths: string[]) => void): void;
  close(): Promise<void>;
}

export interface ServeOptions {
  host: string;
  port: number;
  execute: ExecuteOptions;
  log: (line: string) => void;
  /** How long a page's live runs outlive its last open browser (default 5 s). */
  idleStopMs?: number;
  /** The token (default: 24 random bytes); tests pass their own. */
  token?: string;
}

interface Site {
  state: SiteState;
  assets: LiveAsset[];
  guard: Guard;
  runs: LiveRuns;
  streams: Map<string, Set<ServerResponse>>;
  log(line: string): void;
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { ...HEADERS, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end(message + "\n");
}

/** Answers from the pages in memory, the live assets and the live endpoints, once the guard lets the request in. */
function respond(site: Site) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    let path: string;
    try {
      url = new URL(req.url ?? "/", "http://x");
      path = decodeURIComponent(url.pathname).replace(/^\/+/, "") || "index.html";
    } catch {
      return refuse(res, 400, "bad request");
    }
    const refusal = site.guard.check(req, url);
    if (refusal) return refuse(res, refusal.status, refusal.message);
    // The token's first visit: from now on a cookie carries it, and the address bar loses it.
    if (url.searchParams.has("token") && req.method === "GET") {
      url.searchParams.delete("token");
      res.writeHead(303, { ...HEADERS, "set-cookie": site.guard.setCookie(), location: url.pathname + url.search }).end();
      return;
    }
    for (const [k, v] of Object.entries(HEADERS)) res.setHeader(k, v);
    const { files, names } = site.state;
    const ctx = { runs: site.runs, streams: site.streams, log: site.log, fileOf: (page: string) => names.get(page)?.page.path, isPage: (page: string) => page.endsWith(".html") && files.has(page) };
    if (liveRoute(ctx, req, res, path, url)) return;
    const asset = site.assets.find((a) => a.path === `/${path}`);
    if (asset) {
      res.writeHead(200, { "content-type": asset.type, "cache-control": "max-age=31536000, immutable" }).end(asset.body);
      return;
    }
    const body = files.get(path);
    if (body === undefined || req.method !== "GET") return refuse(res, body === undefined ? 404 : 405, body === undefined ? "not found" : "GET only");
    const ext = path.slice(path.lastIndexOf(".") + 1);
    res.writeHead(200, { "content-type": TYPES[ext] ?? "application/octet-stream", "cache-control": "no-store" });
    res.end(ext === "html" ? livePage(body, path, names.get(path), site.assets) : body);
  };
}

/** Every page's latest result: the build's, with the cells of each live run put in. */
function merged(plan: Plan, before: PageResult, ran: PageResult): PageResult {
  const fresh = new Map(ran.cells.map((c) => [c.name, c]));
  const cells = pairResults(plan.cells, before).flatMap(({ cell, result }) => fresh.get(cell.name) ?? (result ? [result] : []));
  return { ...ran, path: before.path, ports: { ...before.ports, ...ran.ports }, cells };
}

/** The site in memory: each page's plan and latest result, rendered; changed one step at a time. */
class SiteState {
  readonly files = new Map<string, string>();
  private readonly current = new Map<string, { plan: Plan; result: PageResult }>();
  names: Map<string, Plan>;

  constructor(
    readonly plans: Plan[],
    private readonly options: ServeOptions,
  ) {
    this.names = pageNames(plans);
  }

  async runPage(plan: Plan): Promise<void> {
    const { result } = await runCached(plan, pageOptions(plan, this.options.execute), "use");
    this.current.set(plan.page.path, { plan, result: result! });
  }

  async render(): Promise<void> {
    const next = new Map<string, string>();
    const pages = this.plans.map((p) => this.current.get(p.page.path)!).map(({ plan, result }) => ({ page: plan.page, result }));
    await writeSite("", pages, async (path, data) => void next.set(path, data));
    this.files.clear();
    for (const [k, v] of next) this.files.set(k, v);
  }

  /** A live run has ended: its cells' results go on its page. */
  async finished(page: string, result: PageResult): Promise<void> {
    const plan = this.names.get(page);
    const now = plan && this.current.get(plan.page.path);
    if (!now) return;
    this.current.set(plan.page.path, { plan: now.plan, result: merged(now.plan, now.result, result) });
    await this.render();
  }

  /** Re-plans and reruns the saved pages; returns the paths rebuilt (a page with a mistake stays as it was). */
  async rebuild(changed: string[]): Promise<string[]> {
    const rebuilt: string[] = [];
    for (const file of changed) {
      const i = this.plans.findIndex((p) => resolve(p.page.path) === file);
      const path = this.plans[i]!.page.path;
      try {
        const plan = await planPage(await readPage(path));
        for (const w of await lintPlan(plan)) this.options.log(`lectern: ${formatWarning(w)}`);
        this.plans[i] = plan;
        await this.runPage(plan);
        rebuilt.push(path);
      } catch (err) {
        if (!(err instanceof LecternError)) throw err;
        // The page as it was stays served until the mistake is mended.
        this.options.log(`lectern: ${err.report()}`);
      }
    }
    if (rebuilt.length === 0) return rebuilt;
    this.names = pageNames(this.plans);
    await this.render();
    return rebuilt;
  }
}

async function listen(port: number, host: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => ok());
  });
  return server;
}

export async function serve(plans: Plan[], options: ServeOptions): Promise<Preview> {
  const state = new SiteState(plans, options);
  const listeners: ((paths: string[]) => void)[] = [];
  const assets = liveAssets();
  const streams = new Map<string, Set<ServerResponse>>();
  const send = (page: string, data: string) => {
    for (const [p, set] of streams) if (p === page || page === "*") for (const res of set) res.write(data);
  };
  for (const plan of plans) await state.runPage(plan);
  await state.render();

  // Rebuilds after a save and results of live runs change the site one at a time.
  let busy: Promise<void> = Promise.resolve();
  const queue = (work: () => Promise<void>) => (busy = busy.then(work).catch((err) => options.log(`lectern: rebuild failed: ${(err as Error).message}`)));
  const runs = new LiveRuns({
    plan: (page) => state.names.get(page),
    execute: options.execute,
    send: (page, event) => send(page, sse(event)),
    graceMs: options.idleStopMs ?? 5000,
    finished: (page, result) => queue(() => state.finished(page, result)),
  });

  const server = await listen(options.port, options.host);
  const port = (server.address() as { port: number }).port;
  const guard = createGuard(allowedHosts(options.host, port), port, options.token);
  server.on("request", respond({ state, assets: await assets, guard, runs, streams, log: options.log }));

  const rebuild = async (changed: string[]) => {
    const rebuilt = await state.rebuild(changed);
    if (rebuilt.length === 0) return;
    options.log(`rebuilt ${rebuilt.join(", ")}`);
    send("*", sse({ type: "reload" }));
    for (const l of listeners) l(rebuilt);
  };
  const watcher = watchPages(plans.map((p) => resolve(p.page.path)), (changed) => void queue(() => rebuild(changed)));

  return {
    url: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}/`,
    token: guard.token,
    onRebuild: (listener) => void listeners.push(listener),
    async close() {
      watcher.close();
      await runs.close();
      for (const set of streams.values()) for (const res of set) res.end();
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
