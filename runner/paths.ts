// Where Lectern's own files are: the one module that knows the layout of the repository. It sits
// directly in runner/, where the bundled CLI (runner/.cli-HASH.mjs) also sits, so its
// import.meta.url means the same folder whether the sources or the bundle are running.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** runner/ */
export const RUNNER_DIR = dirname(fileURLToPath(import.meta.url));
/** The repository: package.json, cells/, runner/. */
export const ROOT_DIR = dirname(RUNNER_DIR);
/** What runs inside a cell's process. */
export const CELLS_DIR = join(ROOT_DIR, "cells");
/** The site's stylesheet and script, copied into every published site. */
export const ASSETS_DIR = join(RUNNER_DIR, "render", "assets");
export const PACKAGE_JSON = join(ROOT_DIR, "package.json");
