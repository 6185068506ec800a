// The live notebook's own assets, which only `serve` sends (a built site never has them): live.js
// with CodeMirror 6 from node_modules, bundled by esbuild into one script once per serve process
// (about half a second, done while the pages run), and live.css. Each is served under a name that
// holds a hash of its content, so a browser keeps it (immutable) until Lectern changes it.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { sha } from "../digest.ts";
import { RUNNER_DIR } from "../paths.ts";

export const LIVE_ASSETS_DIR = join(RUNNER_DIR, "live", "assets");

export interface LiveAsset {
  /** Its URL path: /__lectern/live.HASH.js */
  path: string;
  type: string;
  body: string;
}

let made: Promise<LiveAsset[]> | null = null;

/** The script (live.js and CodeMirror) and the stylesheet of the live notebook. */
export function liveAssets(): Promise<LiveAsset[]> {
  made ??= (async () => {
    const { build } = await import("esbuild");
    const out = await build({
      entryPoints: [join(LIVE_ASSETS_DIR, "live.js")],
      bundle: true, minify: true, format: "iife", target: "es2020", write: false, legalComments: "none", logLevel: "silent",
    });
    const js = `/* Lectern live notebook, with CodeMirror 6 (MIT), bundled by Lectern */\n${out.outputFiles[0]!.text}`;
    const css = await readFile(join(LIVE_ASSETS_DIR, "live.css"), "utf8");
    return [
      { path: `/__lectern/live.${sha(js).slice(0, 12)}.js`, type: "text/javascript; charset=utf-8", body: js },
      { path: `/__lectern/live.${sha(css).slice(0, 12)}.css`, type: "text/css; charset=utf-8", body: css },
    ];
  })();
  return made;
}
