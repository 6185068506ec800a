// Placeholder until the relay lands (branch relay22): a delayed link is refused, never faked.
export interface Relay {
  pid: number;
  stop(): void;
}

export async function startRelay(_inNet: (command: string, args: string[]) => { command: string; args: string[] }, _delayMs: number, _a: string, _b: string): Promise<Relay> {
  throw new Error("a link's delay needs the TUN relay, which this build does not have");
}
