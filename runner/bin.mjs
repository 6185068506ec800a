#!/usr/bin/env node
// The `lectern` command. The runner's TypeScript is bundled once by esbuild into a file beside
// it, named by a hash of every file esbuild read to make it (its metafile's inputs: runner/ and
// the parts of cells/ the runner imports) and package.json, so a start costs what loading one
// file costs; if that cannot be written, tsx loads the sources directly.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
// The inputs of the newest bundle, as paths relative to the repository.
const INPUTS = join(here, ".cli-inputs.json");

// A hash of the inputs' contents; null when one of them is gone (the sources moved: build again).
function keyOf(inputs) {
  const hash = createHash("sha256");
  for (const input of [...inputs, "package.json"].sort()) {
    if (!existsSync(join(root, input))) return null;
    hash.update(input).update("\0").update(readFileSync(join(root, input))).update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

// The bundle must sit in runner/, beside paths.ts: the sources find cells/ and the assets from there.
const bundleOf = (key) => join(here, `.cli-${key}.mjs`);

async function bundle() {
  const { build } = await import("esbuild");
  const tmp = join(here, `.cli-build-${process.pid}.tmp.mjs`);
  const result = await build({
    entryPoints: [join(here, "cli", "cli.ts")], outfile: tmp, absWorkingDir: root, metafile: true,
    bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs);
  const key = keyOf(inputs);
  renameSync(tmp, bundleOf(key));
  const list = `${INPUTS}.${process.pid}.tmp`;
  writeFileSync(list, JSON.stringify(inputs));
  renameSync(list, INPUTS);
  // Bundles of older sources are of no more use.
  for (const name of readdirSync(here)) {
    if (/^\.cli-[0-9a-f]{16}\.mjs$/.test(name) && join(here, name) !== bundleOf(key)) unlinkSync(join(here, name));
  }
  return bundleOf(key);
}

async function loadCli() {
  try {
    let file = null;
    if (existsSync(INPUTS)) {
      const key = keyOf(JSON.parse(readFileSync(INPUTS, "utf8")));
      if (key && existsSync(bundleOf(key))) file = bundleOf(key);
    }
    return await import(pathToFileURL(file ?? (await bundle())).href);
  } catch {
    const { register } = await import("tsx/esm/api");
    register();
    return await import("./cli/cli.ts");
  }
}

const { main } = await loadCli();
const controller = new AbortController();
let interrupts = 0;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    // The first Ctrl-C stops the cells and still reports; a second one leaves at once.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  });
}
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
