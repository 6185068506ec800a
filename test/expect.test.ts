// The matcher of `output` blocks and its diff: every rule, and where each one must not match.
import { describe, expect, it } from "vitest";
import { diffOutput, lines, linePattern, literalLine, matches, portNames } from "../runner/doctest/expect.ts";

const ports = { udp: 41234, tcp: 5000 };

describe("matches", () => {
  it.each([
    ["plain text, line for line", "a\nb\n", "a\nb\n"],
    ["trailing whitespace on either side", "a  \nb\n", "a\nb \t\n"],
    ["CRLF against LF", "a\r\nb\r\n", "a\nb\n"],
    ["a lone CR as a line end", "a\rb\n", "a\nb\n"],
    ["a missing final newline", "a\nb", "a\nb\n"],
    ["trailing blank lines", "a\n", "a\n\n\n"],
    ["the empty block and no output", "", ""],
    ["`...` standing for several lines", "first\n...\nlast\n", "first\n1\n2\n3\nlast\n"],
    ["`...` standing for no line", "first\n...\nlast\n", "first\nlast\n"],
    ["`...` at the start", "...\nlast\n", "x\ny\nlast\n"],
    ["`...` at the end", "first\n...\n", "first\nx\ny\n"],
    ["`...` alone, against anything", "...\n", "whatever\nit\nprints\n"],
    ["`...` alone, against nothing", "...\n", ""],
    ["two `...`", "a\n...\nb\n...\nc\n", "a\n1\nb\n2\n3\nc\n"],
    ["`...` that must not stop at the first candidate", "...\nx\ny\n", "x\nz\nx\ny\n"],
    ["`...` with trailing spaces", "a\n...   \nb\n", "a\nzzz\nb\n"],
    ["{port:NAME}", "ready on 127.0.0.1:{port:udp}\n", "ready on 127.0.0.1:41234\n"],
    ["{port:NAME} twice in a line", "{port:udp} -> {port:tcp}\n", "41234 -> 5000\n"],
    ["{any} inside a line", "from 127.0.0.1:{any}: hello\n", "from 127.0.0.1:53312: hello\n"],
    ["{any} matching nothing", "a{any}b\n", "ab\n"],
    ["{any} as a whole line", "{any}\n", "anything at all\n"],
    ["{any} with {port:NAME}", "{any}:{port:tcp} ESTAB {any}\n", "127.0.0.1:5000 ESTAB 127.0.0.1:40000\n"],
    ["regex characters taken literally", "a.b*c (d) [e] $f ^g +?|\\\n", "a.b*c (d) [e] $f ^g +?|\\\n"],
  ])("%s", (_what, expected, actual) => {
    expect(matches(expected, actual, ports)).toBe(true);
    expect(diffOutput(expected, actual, ports)).toBeNull();
  });

  it.each([
    ["a different line", "a\nb\n", "a\nc\n"],
    ["a line more", "a\n", "a\nb\n"],
    ["a line fewer", "a\nb\n", "a\n"],
    ["the same lines in another order", "a\nb\n", "b\na\n"],
    ["leading whitespace (it counts)", "a\n", "  a\n"],
    ["a leading blank line (it counts)", "a\n", "\na\n"],
    ["a blank line inside (it counts)", "a\nb\n", "a\n\nb\n"],
    ["case", "hello\n", "HELLO\n"],
    ["`...` inside a line is literal text", "wait...\n", "wait!\n"],
    ["`...` with leading spaces is literal text", "a\n  ...\nb\n", "a\nx\nb\n"],
    ["`....` is literal text", "a\n....\nb\n", "a\nx\nb\n"],
    ["`...` cannot make up a missing last line", "a\n...\nz\n", "a\nb\nc\n"],
    ["{port:NAME} against another number", "port {port:udp}\n", "port 41235\n"],
    ["{port:NAME} inside a longer number", "port {port:tcp}\n", "port 50001\n"],
    ["{port:NAME} as the tail of a longer number", "port {any}{port:tcp}\n", "port 15000\n"],
    ["{port:NAME} of a port the run does not have", "port {port:http}\n", "port 8080\n"],
    ["{port:NAME} that is still written as text", "port {port:udp}\n", "port {port:udp}\n"],
    ["{any} spanning two lines", "a{any}b\n", "a\nb\n"],
    ["{any} standing for a whole line that is not there", "a\n{any}\nb\n", "a\nb\n"],
    ["{ANY} (the tokens are lowercase)", "a{ANY}b\n", "axb\n"],
    ["text around {any} that differs", "from {any}: hello\n", "from 1.2.3.4: goodbye\n"],
    ["an empty block against output", "", "something\n"],
    ["a block against no output", "something\n", ""],
  ])("does not match: %s", (_what, expected, actual) => {
    expect(matches(expected, actual, ports)).toBe(false);
    expect(diffOutput(expected, actual, ports)).not.toBeNull();
  });

  it("compares lines without CR, trailing whitespace or trailing blank lines", () => {
    expect(lines("a \r\nb\t\r\n\r\n\n")).toEqual(["a", "b"]);
    expect(lines("")).toEqual([]);
    expect(lines("\na")).toEqual(["", "a"]);
  });

  it("turns a line into an anchored pattern", () => {
    expect(linePattern("x {any} {port:udp}", ports).source).toBe("^x .* (?<!\\d)41234(?!\\d)$");
    expect(linePattern("a.b", ports).test("axb")).toBe(false);
  });

  it("lists the ports a block names, once each", () => {
    expect(portNames("{port:udp} {port:tcp}\n{port:udp} {any}\n")).toEqual(["udp", "tcp"]);
    expect(portNames("no ports {port:} {port: x}\n")).toEqual([]);
  });
});

describe("diffOutput", () => {
  it("shows a changed line as - then +, with context from the page", () => {
    expect(diffOutput("ready on {port:udp}\nhello\nbye\n", "ready on 41234\nHELLO\nbye\n", ports)).toBe(
      ["--- expected", "+++ actual", "@@ -1,3 +1,3 @@", " ready on {port:udp}", "-hello", "+HELLO", " bye", ""].join("\n"),
    );
  });

  it("groups a run of changes: the expected lines first, then the actual ones", () => {
    expect(diffOutput("a\nb\nc\nd\n", "a\nX\nY\nd\n", {})).toBe("--- expected\n+++ actual\n@@ -1,4 +1,4 @@\n a\n-b\n-c\n+X\n+Y\n d\n");
  });

  it("keeps three lines of context and splits far-apart changes into hunks", () => {
    const expected = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const actual = [...expected];
    actual[1] = "line two";
    actual[17] = "line eighteen";
    expect(diffOutput(expected.join("\n"), actual.join("\n"), {})).toBe(
      [
        "--- expected",
        "+++ actual",
        "@@ -1,5 +1,5 @@",
        " line 1",
        "-line 2",
        "+line two",
        " line 3",
        " line 4",
        " line 5",
        "@@ -15,6 +15,6 @@",
        " line 15",
        " line 16",
        " line 17",
        "-line 18",
        "+line eighteen",
        " line 19",
        " line 20",
        "",
      ].join("\n"),
    );
  });

  it("merges changes six unchanged lines apart into one hunk", () => {
    const diff = diffOutput("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nB\n3\n4\n5\n6\n7\n8\nI\n10\n", {})!;
    expect(diff.split("\n").filter((l) => l.startsWith("@@"))).toEqual(["@@ -1,10 +1,10 @@"]);
  });

  it("shows `...` once for the lines it stands for, and counts them on the actual side", () => {
    expect(diffOutput("start\n...\nend\nextra\n", "start\n1\n2\n3\nend\n", {})).toBe(
      "--- expected\n+++ actual\n@@ -1,4 +1,5 @@\n start\n ...\n end\n-extra\n",
    );
  });

  it("shows what appeared and what went missing against an empty side", () => {
    expect(diffOutput("", "hello\n", {})).toBe("--- expected\n+++ actual\n@@ -0,0 +1 @@\n+hello\n");
    expect(diffOutput("hello\n", "", {})).toBe("--- expected\n+++ actual\n@@ -1 +0,0 @@\n-hello\n");
  });

  it("shows the actual port where the block's port does not match", () => {
    expect(diffOutput("on {port:udp}\n", "on 41235\n", ports)).toBe("--- expected\n+++ actual\n@@ -1 +1 @@\n-on {port:udp}\n+on 41235\n");
  });
});

describe("escapes", () => {
  it.each([
    ["use {port:x} and {any} in a page"],
    ["..."],
    ["\\..."],
    ["a \\{ brace"],
    ["two \\\\{port:udp}"],
    ["{port:41234} stays literal"],
    ["nothing special {here}"],
  ])("writes %j so that it matches exactly itself", (line) => {
    const written = literalLine(line);
    expect(matches(written, line, ports)).toBe(true);
    expect(portNames(written)).toEqual([]);
  });

  it("reads \\{ as a plain brace and \\... as plain dots", () => {
    expect(matches("\\{port:udp}\n\\...\n", "{port:udp}\n...\n", ports)).toBe(true);
    expect(matches("\\{port:udp}\n", "41234\n", ports)).toBe(false);
    expect(matches("\\...\n", "anything\n", ports)).toBe(false);
  });
});
