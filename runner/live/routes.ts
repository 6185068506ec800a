// The live notebook's HTTP endpoints under /__lectern/, after the guard has let a request in:
// the event stream of a page (Server-Sent Events: output flows one way, over plain HTTP, and
// EventSource reconnects by itself; what a browser asks for goes as POSTs), Run, Stop, Save.
import type { IncomingMessage, ServerResponse } from "node:http";
import { LecternError } from "../errors.ts";
import type { LiveEvent, LiveRuns } from "./runs.ts";
import { RunRefused } from "./runs.ts";
import { saveCell, SaveRefused } from "./save.ts";

/** A POST body is a small JSON object: a cell's code, never more than this. */
const MAX_BODY = 1 << 20;

export interface RouteContext {
  runs: LiveRuns;
  /** The Markdown file behind a served page (by its HTML path); undefined: not a served page. */
  fileOf(page: string): string | undefined;
  /** Whether `page` is an HTML page of the served site (pages without cells have streams too). */
  isPage(page: string): boolean;
  /** The event streams of each page. */
  streams: Map<string, Set<ServerResponse>>;
  log(line: string): void;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }).end(JSON.stringify(body) + "\n");
}

/** An SSE message: one JSON document on one `data:` line (JSON has no raw newlines). */
export function sse(event: LiveEvent | { type: string; [k: string]: unknown }): string {
  return `data: ${JSON.stringify(event)}\n\n`;
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        reject(new RunRefused(413, `a request body of at most ${MAX_BODY} bytes`));
        req.destroy();
      } else parts.push(d);
    });
    req.on("end", () => {
      try {
        const value: unknown = JSON.parse(Buffer.concat(parts).toString("utf8"));
        if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
        resolve(value as Record<string, unknown>);
      } catch {
        reject(new RunRefused(400, "the body must be a JSON object"));
      }
    });
    req.on("error", reject);
  });
}

function field(body: Record<string, unknown>, name: string, optional = false): string | undefined {
  const v = body[name];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string") throw new RunRefused(400, `"${name}" must be a string`);
  return v;
}

/** The page's event stream: what runs now, then every event of its runs, and reloads on save. */
function events(ctx: RouteContext, page: string, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
  res.write(sse({ type: "snapshot", running: ctx.runs.snapshot(page) }));
  let set = ctx.streams.get(page);
  if (!set) ctx.streams.set(page, (set = new Set()));
  set.add(res);
  ctx.runs.watching(page, 1);
  req.on("close", () => {
    set.delete(res);
    ctx.runs.watching(page, -1);
  });
}

async function post(ctx: RouteContext, action: string, req: IncomingMessage): Promise<[number, unknown]> {
  const body = await readBody(req);
  const page = field(body, "page")!;
  const cell = field(body, "cell")!;
  // Only a page this server serves, named as the site names it: never a path of the disk.
  const file = ctx.fileOf(page);
  if (file === undefined) return [404, { error: `not a served page: "${page}"` }];
  if (action === "run") {
    await ctx.runs.run(page, cell, field(body, "code", true));
    return [202, { ok: true }];
  }
  if (action === "stop") return [200, { stopped: await ctx.runs.stop(page, cell) }];
  await saveCell(file, cell, field(body, "code")!);
  ctx.log(`saved cell ${cell} into ${file}`);
  return [200, { ok: true }];
}

/** Answers a request for /__lectern/...; false when the path is none of these. */
export function liveRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, path: string, url: URL): boolean {
  if (path === "__lectern/events") {
    const page = url.searchParams.get("page") ?? "";
    if (req.method !== "GET") sendJson(res, 405, { error: "GET only" });
    else if (!ctx.isPage(page)) sendJson(res, 404, { error: `not a served page: "${page}"` });
    else events(ctx, page, req, res);
    return true;
  }
  const action = /^__lectern\/(run|stop|save)$/.exec(path)?.[1];
  if (!action) return false;
  if (req.method !== "POST") {
    sendJson(res, 405, { error: "POST only" });
    return true;
  }
  if (!/^application\/json\b/.test(req.headers["content-type"] ?? "")) {
    sendJson(res, 415, { error: "the body must be application/json" });
    return true;
  }
  post(ctx, action, req).then(
    ([status, body]) => sendJson(res, status, body),
    (err: unknown) => {
      if (err instanceof RunRefused || err instanceof SaveRefused) sendJson(res, err.status, { error: err.message });
      else if (err instanceof LecternError) sendJson(res, 400, { error: err.report() });
      else {
        ctx.log(`lectern: ${action} failed: ${(err as Error).message}`);
        sendJson(res, 500, { error: (err as Error).message });
      }
    },
  );
  return true;
}
