// What `lectern help`, `lectern COMMAND --help` and `lectern --version` print, made from the
// command table in options.ts, so help never disagrees with what is parsed.
import { readFileSync } from "node:fs";
import { COMMANDS, type CommandName, type Flag } from "./options.ts";
import { PACKAGE_JSON } from "../paths.ts";

export function version(): string {
  return (JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version: string }).version;
}

export function usageLine(name: CommandName): string {
  return `lectern ${name} ${COMMANDS[name].args} [options]`;
}

/** The overview: every command with its summary. */
export function generalHelp(): string {
  const names = Object.keys(COMMANDS) as CommandName[];
  const width = Math.max(...names.map((n) => n.length));
  const rows = names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`);
  return [
    `lectern ${version()}: runnable lecture notes`,
    "",
    "Usage: lectern COMMAND [options]",
    "",
    "Commands:",
    ...rows,
    `  ${"help".padEnd(width)}  print this, or a command's options: lectern help COMMAND`,
    "",
    "Options:",
    "  -h, --help     print help (after a command: that command's)",
    "  -V, --version  print Lectern's version",
    "",
    "Example:",
    "  lectern run notebook/lec3-socket-programming.md",
    "",
    "Run `lectern COMMAND --help` for a command's options.",
    "",
  ].join("\n");
}

const flagLabel = (name: string, f: Flag) => `--${name}${f.arg ? ` ${f.arg}` : ""}`;

/** One command: usage, what it does, every flag, one example. */
export function commandHelp(name: CommandName): string {
  const spec = COMMANDS[name];
  const flags: [string, string][] = Object.entries(spec.flags as Record<string, Flag>).map(([n, f]) => [flagLabel(n, f), f.help]);
  flags.push(["-h, --help", "print this help"]);
  const width = Math.max(...flags.map(([l]) => l.length));
  return [
    `lectern ${name}: ${spec.summary}`,
    "",
    `Usage: ${usageLine(name)}`,
    "",
    "Options:",
    ...flags.map(([label, help]) => `  ${label.padEnd(width)}  ${help}`),
    "",
    "Example:",
    `  ${spec.example}`,
    "",
  ].join("\n");
}

/** `--help` or `-h` among a command's arguments (not after `--`). */
export function wantsHelp(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}
