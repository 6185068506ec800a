// What the command line touches of the outside world, passed in so tests need no terminal.
export interface Io {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Aborts when the user presses Ctrl-C or Lectern gets SIGTERM. */
  signal?: AbortSignal;
}
