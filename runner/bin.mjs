#!/usr/bin/env node
// The `lectern` command. The runner's TypeScript is bundled once by esbuild into a file beside
// it, named by a hash of its sources, so a start costs what loading one file costs; if that
// cannot be written, tsx loads the sources directly.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

async function loadCli() {
  const hash = createHash("sha256");
  for (const dir of [here, join(here, "commands")]) {
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith(".ts")) hash.update(name).update(readFileSync(join(dir, name)));
    }
  }
  hash.update(readFileSync(join(here, "..", "package.json")));
  // The bundle must sit in runner/: the sources find cells/ and assets/ from import.meta.url.
  const bundle = join(here, `.cli-${hash.digest("hex").slice(0, 16)}.mjs`);
  try {
    if (!existsSync(bundle)) {
      const { build } = await import("esbuild");
      const tmp = `${bundle}.${process.pid}.tmp`;
      await build({ entryPoints: [join(here, "cli.ts")], outfile: tmp, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "silent" });
      renameSync(tmp, bundle);
      // Bundles of older sources are of no more use.
      for (const name of readdirSync(here)) {
        if (/^\.cli-[0-9a-f]{16}\.mjs$/.test(name) && join(here, name) !== bundle) unlinkSync(join(here, name));
      }
    }
    return await import(pathToFileURL(bundle).href);
  } catch {
    const { register } = await import("tsx/esm/api");
    register();
    return await import("./cli.ts");
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
