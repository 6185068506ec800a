// lectern list PAGE: the cells of a page, what they wait for and the ports they name.
import type { Io } from "../io.ts";
import { parse, usage } from "../options.ts";
import { planAll } from "../pages.ts";
import { jsonList, textList } from "../report.ts";

export async function listCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: "boolean" } });
  if (positionals.length !== 1) throw usage("list takes one PAGE");
  const plan = (await planAll(positionals))[0]!;
  io.stdout.write(values.json ? jsonList(plan) + "\n" : textList(plan));
  return 0;
}
