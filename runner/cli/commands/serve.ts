// lectern serve [PATH]... [--port N]: a live preview on loopback that rebuilds on save, and a
// notebook: each cell can be run, edited and saved from the page (runner/live/).
import type { Io } from "../../io.ts";
import { cacheDirOf, COMMANDS, executeOptions, parse, positiveNumber, usage } from "../options.ts";
import { planAll } from "../../plan/pages.ts";
import { serve } from "../preview.ts";
import { preparePages } from "../settings.ts";

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, COMMANDS.serve.flags);
  const port = values.port === "0" ? 0 : positiveNumber("--port", values.port, 4000, true);
  if (port > 65535) throw usage(`--port takes a number from 0 to 65535, not "${String(values.port)}"`);
  const plans = await planAll(positionals.length > 0 ? positionals : ["notebook"], cacheDirOf(values));
  await preparePages(plans, io);
  const log = (line: string) => void io.stderr.write(line + "\n");
  let preview;
  try {
    preview = await serve(plans, { host: (values.host as string | undefined) ?? "127.0.0.1", port, execute: executeOptions(values, io), log });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") io.stderr.write(`lectern: port ${port} is in use: pick another with --port N\n`);
    else if (code === "ENOTFOUND" || code === "EADDRNOTAVAIL" || code === "EAI_AGAIN") io.stderr.write(`lectern: cannot listen on host "${String(values.host)}": ${code}\n`);
    else throw err;
    return 2;
  }
  const host = (values.host as string | undefined) ?? "127.0.0.1";
  if (!["127.0.0.1", "::1", "localhost"].includes(host)) {
    io.stderr.write(`lectern: warning: serving on ${host}, not loopback only: whoever reaches it with the token can run code as you (in the sandbox)\n`);
  }
  // Like Jupyter's: whoever has this URL may run code as you, so it is printed only here.
  io.stdout.write(`serving ${preview.url}?token=${preview.token} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  await preview.close();
  return 0;
}
