// Loaded into every TypeScript cell's process before its code (node --require): opens the side
// channel to the runner, makes output blocking as on a terminal, installs the observers of
// sockets and, where the cells share the machine's network, the loopback guard.
import { installGuard } from "./guard.ts";
import { dieWithLectern, openChannel, send } from "./channel.ts";
import { traceSends } from "./observe.ts";
import { flush, traceTo } from "./record.ts";

const fd = Number(process.env.LECTERN_CHANNEL);
const allowNet = process.env.LECTERN_ALLOW_NET;
const traceFd = Number(process.env.LECTERN_TRACE);
// Children the cell starts must not write into our channel: they never see its number.
delete process.env.LECTERN_CHANNEL;
delete process.env.LECTERN_ALLOW_NET;
delete process.env.LECTERN_TRACE;
// The trace goes to a file of the runner's; without one (trace off) nothing is recorded or wrapped.
if (Number.isInteger(traceFd) && traceFd > 2) {
  traceTo(traceFd);
  traceSends();
}
if (Number.isInteger(fd) && fd > 2) {
  openChannel(fd);
  // Asked before a stop: the trace, then the answer, so that Lectern's SIGTERM loses nothing.
  dieWithLectern(fd, () => {
    flush();
    send({ type: "flushed" });
  });
}
if (allowNet !== undefined) installGuard(allowNet.split(","));

// Cells are compiled with source maps to their page: stack traces name `page.md:LINE`. (Set here,
// not with --enable-source-maps: any node flag makes every start slower.)
process.setSourceMapsEnabled(true);

// As on a terminal, a write is done when write() returns, so nothing printed before
// process.exit() is lost (on Linux, Node leaves pipes non-blocking and drops what is queued).
for (const stream of [process.stdout, process.stderr]) {
  (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle?.setBlocking?.(true);
}

process.on("uncaughtExceptionMonitor", (err) => {
  const code = (err as { code?: unknown } | null)?.code;
  send({ type: "uncaught", code: typeof code === "string" ? code : null, message: String((err as Error)?.message ?? err) });
});
