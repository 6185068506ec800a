// Cells -> files node can run at once: TypeScript compiled by esbuild (the one tsx brings),
// `lectern` bundled from cells/, packages left to node, each output cached by content hash.
import { existsSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";
import { writeAtomic } from "../atomic.ts";
import { LecternError } from "../errors.ts";
import { CELLS_DIR } from "../paths.ts";
import { sha, toolchainKey } from "../digest.ts";
import type { Cell } from "../types.ts";
import { pythonSupport } from "./pysupport.ts";
import type { Tool } from "./tools.ts";

const RUNTIME = join(CELLS_DIR, "lectern.ts");
const BUILTINS = new Set(builtinModules);
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
  /** The compiled file's own digest: a file changed since Lectern wrote it is compiled again. */
  digest: string;
}

// Content hashes of local files, remembered while their size and modification time stay the same.
const hashes = new Map<string, { stamp: string; hash: string }>();
function fileHash(file: string): string | null {
  let stamp: string;
  try {
    const st = statSync(file);
    stamp = `${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
  const known = hashes.get(file);
  if (known?.stamp === stamp) return known.hash;
  const hash = sha(readFileSync(file, "utf8"));
  hashes.set(file, { stamp, hash });
  return hash;
}

/**
 * The earlier build's manifest, if every local file it read still has the content it had and
 * the compiled file is still what Lectern wrote.
 */
function freshManifest(manifestPath: string, file: string): Manifest | null {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
    const fresh = fileHash(file) === manifest.digest && Object.entries(manifest.inputs).every(([input, hash]) => fileHash(input) === hash);
    return fresh ? manifest : null;
  } catch {
    return null;
  }
}

async function bundle(options: {
  contents: string;
  resolveDir: string;
  sourcefile: string;
  format: "esm" | "cjs";
  /** Where the output will be written: source map paths are relative to it. */
  outfile: string;
  sourcemap?: boolean;
}): Promise<{ code: string; inputs: string[] }> {
  const { build } = await import("esbuild");
  const result = await build({
    stdin: { contents: options.contents, loader: "ts", resolveDir: options.resolveDir, sourcefile: options.sourcefile },
    outfile: options.outfile,
    sourcemap: options.sourcemap ? "inline" : false,
    sourcesContent: false,
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
    // The cell comes in as stdin under the page's name; only the files it imports are inputs.
    .filter((p) => p !== resolve(options.sourcefile) && existsSync(p));
  return { code: result.outputFiles![0]!.text, inputs };
}

export interface Compiled {
  /** What node runs (for shell cells, the script itself). */
  file: string;
  /** Its content's digest, checked before reuse. */
  digest: string;
  /** Every local file bundled in, with the hash of its content. */
  inputs: Record<string, string>;
}

/** A runnable file for the cell, compiled now or found in the cache. */
export async function compileCell(cell: Cell, pagePath: string, cacheDir: string): Promise<Compiled> {
  const dir = join(cacheDir, "compiled");
  if (cell.lang !== "ts") {
    const digest = sha(cell.code);
    const file = join(dir, `${digest}.${cell.lang}`);
    // Named by its content: one that no longer has it was changed by someone else, and is rewritten.
    if (fileHash(file) !== digest) await writeAtomic(file, cell.code);
    return { file, digest, inputs: {} };
  }
  const resolveDir = dirname(resolve(pagePath));
  const key = sha(cell.code, String(cell.line), resolve(pagePath), toolchainKey());
  const file = join(dir, `${key}.mjs`);
  const manifestPath = join(dir, `${key}.json`);
  const manifest = existsSync(file) ? freshManifest(manifestPath, file) : null;
  if (manifest) return { file, digest: manifest.digest, inputs: manifest.inputs };
  let out;
  try {
    // Blank lines up to the fence put the code at its own lines, so with the source map (the
    // preload turns them on) a stack trace points into the page: `page.md:42:7`.
    out = await bundle({ contents: "\n".repeat(cell.line) + cell.code, resolveDir, sourcefile: resolve(pagePath), format: "esm", outfile: file, sourcemap: true });
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors?.[0];
    const where = first?.location;
    // An error in a file the cell imports is that file's, at its own line.
    const inPage = !where || resolve(where.file) === resolve(pagePath);
    throw new LecternError(
      "E_COMPILE",
      inPage ? `cell "${cell.name}" does not compile: ${first?.text ?? String(err)}` : `cell "${cell.name}" imports ${where!.file}, which does not compile: ${first!.text}`,
      inPage ? { file: pagePath, line: where?.line ?? cell.line } : { file: where!.file, line: where!.line },
      { cause: err },
    );
  }
  const inputs: Record<string, string> = {};
  for (const input of out.inputs) inputs[input] = fileHash(input)!;
  // The code first: a manifest is only ever found next to the file it describes.
  await writeAtomic(file, out.code);
  const digest = sha(out.code);
  await writeAtomic(manifestPath, JSON.stringify({ inputs, digest } satisfies Manifest));
  return { file, digest, inputs };
}

const support = new Map<string, Promise<string>>();

/**
 * cells/preload.ts and cells/shell.ts, compiled once per content into the cache; cells/python as
 * bytecode for the cell's python3 (pysupport.ts).
 */
export function compileSupport(name: "preload" | "shell" | "python", cacheDir: string, tool: Tool | null = null): Promise<string> {
  if (name === "python") return pythonSupport(cacheDir, tool!);
  const memo = `${name}\0${cacheDir}`;
  let found = support.get(memo);
  if (!found) {
    found = (async () => {
      const source = join(CELLS_DIR, `${name}.ts`);
      const format = name === "preload" ? "cjs" : "esm";
      const file = join(cacheDir, "support", `${name}-${toolchainKey()}.${format === "cjs" ? "cjs" : "mjs"}`);
      // Checked against the digest Lectern wrote beside it: a preload changed since is rebuilt,
      // never run (it goes into every cell).
      const digestFile = `${file}.sha`;
      const known = existsSync(digestFile) ? readFileSync(digestFile, "utf8") : null;
      if (known !== null && fileHash(file) === known) return file;
      const out = await bundle({ contents: readFileSync(source, "utf8"), resolveDir: CELLS_DIR, sourcefile: source, format, outfile: file });
      await writeAtomic(file, out.code);
      await writeAtomic(digestFile, sha(out.code));
      return file;
    })();
    // A failed compile is not remembered: the next call tries again.
    found.catch(() => support.delete(memo));
    support.set(memo, found);
  }
  return found;
}
