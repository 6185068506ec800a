// The command line: picks the command, turns a LecternError into `lectern: file:line: message`
// and exit status 2, and returns the exit status (it never calls process.exit).
import { buildCommand } from "./commands/build.ts";
import { checkCommand } from "./commands/check.ts";
import { listCommand } from "./commands/list.ts";
import { runCommand } from "./commands/run.ts";
import { serveCommand } from "./commands/serve.ts";
import { testCommand } from "./commands/test.ts";
import { LecternError } from "../errors.ts";
import { describeWriteFailure } from "../writefailure.ts";
import type { Io } from "../io.ts";
import { usage, USAGE } from "./options.ts";

export type { Io } from "../io.ts";

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  run: runCommand,
  build: buildCommand,
  list: listCommand,
  serve: serveCommand,
  test: testCommand,
  check: checkCommand,
};

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "help" || command === "--help" || command === "-h") {
      io.stdout.write(USAGE);
      return 0;
    }
    const run = command !== undefined && Object.hasOwn(COMMANDS, command) ? COMMANDS[command]! : null;
    if (!run) throw usage(command === undefined ? "no command given" : `unknown command "${command}"`);
    return await run(rest, io);
  } catch (err) {
    if (err instanceof LecternError) {
      io.stderr.write(`lectern: ${err.describe()}\n`);
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
