import { describe, expect, it } from "vitest";
import { Transcript } from "../runner/execute/transcript.ts";

const b = (s: string) => Buffer.from(s);

describe("Transcript", () => {
  it("places an echo right after the prompt even when later output arrived first", () => {
    const t = new Transcript(1 << 20);
    t.data("stdout", b("Name: "));
    t.data("stdout", b("Hello, Ada\nAge: "));
    t.data("stderr", b("warning\n"));
    t.echo("Ada\n", 6, 0);
    t.echo("36\n", 22, 8);
    t.finish();
    expect(t.chunks).toEqual([
      { stream: "stdout", text: "Name: " },
      { stream: "stdin", text: "Ada\n" },
      { stream: "stdout", text: "Hello, Ada\nAge: " },
      { stream: "stderr", text: "warning\n" },
      { stream: "stdin", text: "36\n" },
    ]);
  });

  it("splits a piece that holds both the prompt and what followed it", () => {
    const t = new Transcript(1 << 20);
    t.echo("x\n", 3, 0);
    t.data("stdout", b("> ?after\n"));
    expect(t.text()).toBe("> ?x\nafter\n");
  });

  it("decodes characters split across reads whole, and invalid bytes as U+FFFD", () => {
    const t = new Transcript(1 << 20);
    const euro = b("€");
    t.data("stdout", euro.subarray(0, 1));
    t.data("stdout", euro.subarray(1));
    t.data("stdout", Buffer.from([0xff, 0x0a]));
    expect(t.text()).toBe("€\uFFFD\n");
  });

  it("keeps what fits under the cap and says how much more there was", () => {
    const t = new Transcript(10);
    t.data("stdout", b("0123456789abc"));
    t.data("stderr", b("def"));
    expect(t.full).toBe(true);
    expect(t.text()).toBe("0123456789\n[output truncated: 6 bytes more]\n");
  });
});
