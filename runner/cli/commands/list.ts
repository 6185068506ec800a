// lectern list PAGE: the cells of a page, what they wait for and the ports they name.
import type { Io } from "../../io.ts";
import { COMMANDS, parse } from "../options.ts";
import { onePage } from "../../plan/pages.ts";
import { jsonList, textList } from "../report.ts";

export async function listCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMANDS.list.flags);
  const plan = await onePage(positionals, "list");
  io.stdout.write(values.json ? jsonList(plan) + "\n" : textList(plan));
  return 0;
}
