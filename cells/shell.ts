// Runs a shell cell (`sh` or `bash`) through zx, printing straight to the cell's own stdout
// and stderr, and exits with the script's status.
import { $ } from "zx";

const [shell, file] = process.argv.slice(2);
if (!shell || !file) {
  process.stderr.write("usage: shell.mjs SHELL SCRIPT\n");
  process.exit(2);
}
const result = await $({ stdio: "inherit", nothrow: true, quiet: true, verbose: false })`${shell} ${file}`;
process.exitCode = result.exitCode ?? (result.signal ? 128 : 1);
