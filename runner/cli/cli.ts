// The command line: picks the command (or help, or the version), turns a LecternError into
// `lectern: file:line: message` and exit status 2, and returns the exit status (it never calls
// process.exit). Commands and their flags are one table, in options.ts.
import { buildCommand } from "./commands/build.ts";
import { checkCommand } from "./commands/check.ts";
import { gradeCommand } from "./commands/grade.ts";
import { listCommand } from "./commands/list.ts";
import { runCommand } from "./commands/run.ts";
import { serveCommand } from "./commands/serve.ts";
import { testCommand } from "./commands/test.ts";
import { LecternError } from "../errors.ts";
import { describeWriteFailure } from "../writefailure.ts";
import type { Io } from "../io.ts";
import { commandHelp, generalHelp, usageLine, version, wantsHelp } from "./help.ts";
import { COMMANDS, isCommand, usage, type CommandName } from "./options.ts";
import { didYouMean } from "../plan/lint.ts";

export type { Io } from "../io.ts";

const HANDLERS: Record<CommandName, (args: string[], io: Io) => Promise<number>> = {
  run: runCommand,
  build: buildCommand,
  list: listCommand,
  serve: serveCommand,
  test: testCommand,
  check: checkCommand,
  grade: gradeCommand,
};

const unknownCommand = (name: string) =>
  usage(`unknown command "${name}"${didYouMean(name, [...Object.keys(COMMANDS), "help"])}; run \`lectern help\` for the commands`);

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      // The commands, where a script's mistake is still seen as one (exit 2).
      io.stderr.write(generalHelp());
      return 2;
    }
    if (command === "--version" || command === "-V") {
      io.stdout.write(`lectern ${version()}\n`);
      return 0;
    }
    if (command === "help" || command === "--help" || command === "-h") {
      // `lectern help --help` is help about help: the general text, as `lectern help help` is.
      const topic = command === "help" && !wantsHelp(rest.slice(0, 1)) ? rest[0] : undefined;
      if (topic !== undefined && !isCommand(topic) && topic !== "help") throw unknownCommand(topic);
      io.stdout.write(isCommand(topic) ? commandHelp(topic) : generalHelp());
      return 0;
    }
    if (!isCommand(command)) throw unknownCommand(command);
    if (wantsHelp(rest)) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    try {
      return await HANDLERS[command](rest, io);
    } catch (err) {
      // A mistake on the command line (not in a page) is shown with the command's usage.
      if (err instanceof LecternError && err.code === "E_USAGE" && err.file === null) {
        throw usage(`${err.message}\nusage: ${usageLine(command)} (lectern ${command} --help for more)`);
      }
      throw err;
    }
  } catch (err) {
    const errors = err instanceof AggregateError ? err.errors : [err];
    if (errors.length > 0 && errors.every((e) => e instanceof LecternError)) {
      for (const e of errors as LecternError[]) io.stderr.write(`lectern: ${e.report()}\n`);
      return 2;
    }
    const unwritten = describeWriteFailure(err);
    if (unwritten) {
      io.stderr.write(`lectern: ${unwritten}\n`);
      return 1;
    }
    throw err;
  }
}
