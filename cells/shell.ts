// Runs a shell cell (`sh` or `bash`) through zx, printing straight to the cell's own stdout
// and stderr, and exits with the script's status.
import { $ } from "zx";
import { dieWithLectern } from "./channel.ts";

// As in the preload: if Lectern dies, the side channel closes and the script goes with it.
const fd = Number(process.env.LECTERN_CHANNEL);
delete process.env.LECTERN_CHANNEL;
if (Number.isInteger(fd) && fd > 2) dieWithLectern(fd);

const [shell, file] = process.argv.slice(2);
if (!shell || !file) {
  process.stderr.write("usage: shell.mjs SHELL SCRIPT\n");
  process.exit(2);
}
// No rc or profile file: a user's ~/.bashrc must not run in a cell, print into its transcript or
// slow it down. bash reads one when it thinks sshd started it (its stdin is a socket and SHLVL is
// unset): --norc stops that for the cell, and SHLVL for the shell zx runs it through.
for (const name of ["BASH_ENV", "ENV"]) delete process.env[name];
process.env.SHLVL = "1";
const flags = shell === "bash" ? ["--norc", "--noprofile"] : [];
const result = await $({ stdio: "inherit", nothrow: true, quiet: true, verbose: false })`${shell} ${flags} ${file}`;
process.exitCode = result.exitCode ?? (result.signal ? 128 : 1);
