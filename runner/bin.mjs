#!/usr/bin/env node
// The `lectern` command: TypeScript sources loaded through tsx, no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./cli.ts");

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
