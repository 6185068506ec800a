// Cells -> files node can run at once: TypeScript compiled by esbuild (the one tsx brings),
// `lectern` bundled from cells/, packages left to node, each output cached by content hash.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, version as esbuildVersion, type Plugin } from "esbuild";
import { writeAtomic } from "./atomic.ts";
import { LecternError } from "./errors.ts";
import type { Cell } from "./types.ts";

const CELLS_DIR = fileURLToPath(new URL("../cells/", import.meta.url));
const RUNTIME = join(CELLS_DIR, "lectern.ts");
const BUILTINS = new Set(builtinModules);

function sha(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 32);
}

// What else a compiled file depends on: the runtime's source, the compiler, the platform.
let runtimeKey: string | null = null;
function toolchainKey(): string {
  runtimeKey ??= sha(readFileSync(RUNTIME, "utf8"), readFileSync(join(CELLS_DIR, "channel.ts"), "utf8"), esbuildVersion, process.version);
  return runtimeKey;
}

/** `lectern` is bundled in; every other package stays an import that node resolves from the page's folder. */
function resolvePlugin(): Plugin {
  return {
    name: "lectern-resolve",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === "lectern-inner") return undefined;
        if (args.path === "lectern") return { path: RUNTIME };
        const bare = args.path.startsWith("node:") ? args.path.slice(5) : args.path;
        if (BUILTINS.has(bare) || BUILTINS.has(bare.split("/")[0]!)) return { path: args.path, external: true };
        const found = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: "lectern-inner" });
        if (found.errors.length > 0) return { errors: found.errors };
        return { path: pathToFileURL(found.path).href, external: true };
      });
    },
  };
}

interface Manifest {
  inputs: Record<string, string>;
}

/** True when every local file the earlier build read still has the content it had. */
function manifestFresh(manifestPath: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
    return Object.entries(manifest.inputs).every(([file, hash]) => existsSync(file) && sha(readFileSync(file, "utf8")) === hash);
  } catch {
    return false;
  }
}

async function bundle(options: { contents: string; resolveDir: string; sourcefile: string; format: "esm" | "cjs" }): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    stdin: { contents: options.contents, loader: "ts", resolveDir: options.resolveDir, sourcefile: options.sourcefile },
    bundle: true,
    write: false,
    format: options.format,
    platform: "node",
    target: "node20",
    metafile: true,
    logLevel: "silent",
    plugins: [resolvePlugin()],
  });
  const inputs = Object.keys(result.metafile!.inputs)
    .map((p) => resolve(p))
    // The cell itself comes in as stdin under a made-up name: only real files are inputs.
    .filter((p) => existsSync(p));
  return { code: result.outputFiles![0]!.text, inputs };
}

/**
 * The path of a runnable file for the cell, compiled now or found in the cache. For shell
 * cells that is the script itself.
 */
export async function compileCell(cell: Cell, pagePath: string, cacheDir: string): Promise<string> {
  const dir = join(cacheDir, "compiled");
  if (cell.lang !== "ts") {
    const file = join(dir, `${sha(cell.code)}.${cell.lang}`);
    if (!existsSync(file)) await writeAtomic(file, cell.code);
    return file;
  }
  const resolveDir = dirname(resolve(pagePath));
  const key = sha(cell.code, resolveDir, toolchainKey());
  const file = join(dir, `${key}.mjs`);
  const manifestPath = join(dir, `${key}.json`);
  if (existsSync(file) && manifestFresh(manifestPath)) return file;
  let out;
  try {
    out = await bundle({ contents: cell.code, resolveDir, sourcefile: `${pagePath}#${cell.name}.ts`, format: "esm" });
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { line: number } | null }[] }).errors?.[0];
    throw new LecternError(
      "E_COMPILE",
      `cell "${cell.name}" does not compile: ${first?.text ?? String(err)}`,
      { file: pagePath, line: cell.line + (first?.location?.line ?? 0) },
      { cause: err },
    );
  }
  const inputs: Record<string, string> = {};
  for (const input of out.inputs) inputs[input] = sha(readFileSync(input, "utf8"));
  await writeAtomic(manifestPath, JSON.stringify({ inputs } satisfies Manifest));
  await writeAtomic(file, out.code);
  return file;
}

/** cells/preload.ts and cells/shell.ts, compiled once per content into the cache. */
export async function compileSupport(name: "preload" | "shell", cacheDir: string): Promise<string> {
  const source = join(CELLS_DIR, `${name}.ts`);
  const contents = readFileSync(source, "utf8");
  const format = name === "preload" ? "cjs" : "esm";
  const file = join(cacheDir, "support", `${name}-${sha(contents, toolchainKey())}.${format === "cjs" ? "cjs" : "mjs"}`);
  if (existsSync(file)) return file;
  const out = await bundle({ contents, resolveDir: CELLS_DIR, sourcefile: source, format });
  await writeAtomic(file, out.code);
  return file;
}
