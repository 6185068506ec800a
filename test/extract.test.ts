import { describe, expect, it } from "vitest";
import { LecternError } from "../runner/errors.ts";
import { decodeUtf8, extractPage } from "../runner/extract/extract.ts";
import { parseInfo } from "../runner/extract/info.ts";

const where = { file: "p.md", line: 7 };

function error(fn: () => unknown): LecternError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LecternError) return err;
    throw err;
  }
  throw new Error("expected a LecternError");
}

describe("parseInfo", () => {
  it("reads flags, plain and quoted values", () => {
    const { lang, name, attrs } = parseInfo('ts name=udp-client needs=a,b stdin="hello world\\nbye" timeout=2.5 exit=3', where);
    expect(lang).toBe("ts");
    expect(name).toBe("udp-client");
    expect(attrs.needs).toEqual(["a", "b"]);
    expect(attrs.stdin).toBe("hello world\nbye");
    expect(attrs.timeout).toBe(2.5);
    expect(attrs.exit).toBe(3);
    expect(parseInfo("typescript server ready=/listening on \\d+/", where).attrs.ready?.source).toBe("listening on \\d+");
    expect(parseInfo('ts server ready="/a\\d b/"', where).attrs.ready?.source).toBe("a\\d b");
  });

  it("parses ready as a regular expression on servers", () => {
    const { attrs } = parseInfo("ts server ready=/listening/i", where);
    expect(attrs.server).toBe(true);
    expect(attrs.ready?.test("LISTENING")).toBe(true);
  });

  it("names the language of shell cells", () => {
    expect(parseInfo("bash", where).lang).toBe("bash");
    expect(parseInfo("sh skip", where).attrs.skip).toBe(true);
  });

  it.each([
    ["ts colour=red", "E_ATTR_UNKNOWN", 'p.md:7: unknown attribute "colour": a cell takes name, server, needs, with, stdin, expect, exit, timeout, skip, ready, nocheck, exercise, solution, host'],
    ["ts name=__proto__", "E_ATTR_VALUE", "p.md:7: name=__proto__: a name starts with a letter and has only letters, digits, - and _ (at most 64)"],
    ["ts timeout=0", "E_ATTR_VALUE", "p.md:7: timeout=0: timeout takes a number of seconds, from 0.01 to 3600"],
    ["ts timeout=soon", "E_ATTR_VALUE", "p.md:7: timeout=soon: timeout takes a number of seconds, from 0.01 to 3600"],
    ["ts timeout=0x10", "E_ATTR_VALUE", "p.md:7: timeout=0x10: timeout takes a number of seconds, from 0.01 to 3600"],
    ["ts timeout=1e-9", "E_ATTR_VALUE", "p.md:7: timeout=1e-9: timeout takes a number of seconds, from 0.01 to 3600"],
    ["ts exit=300", "E_ATTR_VALUE", "p.md:7: exit=300: exit takes a status from 0 to 255"],
    ["ts server=yes", "E_ATTR_VALUE", "p.md:7: server=yes: server is a flag and takes no value"],
    ['ts stdin="open', "E_ATTR_VALUE", 'p.md:7: attribute stdin has an unclosed quote: close it with "'],
    ["ts expect=sometimes", "E_ATTR_VALUE", 'p.md:7: expect=sometimes: expect takes "error" or an error code such as ECONNREFUSED'],
    ["ts ready=/x/", "E_ATTR_VALUE", "p.md:7: ready= is for server cells: add server"],
    ["ts name=a name=b", "E_ATTR_VALUE", "p.md:7: attribute name is given twice"],
  ])("rejects %s", (info, code, message) => {
    const err = error(() => parseInfo(info, where));
    expect(err.code).toBe(code);
    expect(err.describe()).toBe(message);
  });
});

describe("extractPage", () => {
  it("finds every CommonMark fence form, with its opening line and clean code", () => {
    const page = extractPage(
      "forms.md",
      [
        "# Forms", // 1
        "", // 2
        "```ts name=backticks", // 3
        "console.log(1);", // 4
        "```", // 5
        "", // 6
        "~~~ts name=tildes", // 7
        "console.log(2);", // 8
        "~~~", // 9
        "", // 10
        "````ts name=long", // 11
        "const s = `", // 12
        "```", // 13
        "`;", // 14
        "````", // 15
        "", // 16
        "- item", // 17
        "", // 18
        "  ```ts name=listed", // 19
        "  if (true) {", // 20
        "    console.log(3);", // 21
        "  }", // 22
        "  ```", // 23
        "", // 24
        "> ```ts name=quoted", // 25
        "> console.log(4);", // 26
        "> ```", // 27
        "", // 28
        "```js", // 29
        "not a cell", // 30
        "```", // 31
        "", // 32
        "```ts", // 33
        "console.log(5);", // 34
        "```", // 35
        "```output", // 36
        "5", // 37
        "```", // 38
      ].join("\n"),
    );
    expect(page.cells.map((c) => [c.name, c.line, c.code])).toEqual([
      ["backticks", 3, "console.log(1);\n"],
      ["tildes", 7, "console.log(2);\n"],
      ["long", 11, "const s = `\n```\n`;\n"],
      ["listed", 19, "if (true) {\n  console.log(3);\n}\n"],
      ["quoted", 25, "console.log(4);\n"],
      ["cell-6", 33, "console.log(5);\n"],
    ]);
    expect(page.cells[5]!.expected).toMatchObject({ text: "5\n", line: 36 });
    expect(page.cells[0]!.expected).toBeNull();
  });

  it("reads CRLF files and a byte-order mark the same way", () => {
    const page = extractPage("crlf.md", "\uFEFF# T\r\n\r\n```ts name=a\r\nconsole.log(1);\r\n```\r\n");
    expect(page.cells.map((c) => [c.name, c.line, c.code])).toEqual([["a", 3, "console.log(1);\n"]]);
  });

  it("rejects a duplicate name at the second cell's line", () => {
    const err = error(() => extractPage("dup.md", "```ts name=a\n```\n\n```ts name=a\n```\n"));
    expect(err.code).toBe("E_NAME_DUPLICATE");
    expect(err.describe()).toBe('dup.md:4: a cell named "a" is already at line 1: give this one another name=');
  });

  it("rejects a cell whose fence is never closed", () => {
    const err = error(() => extractPage("open.md", "text\n\n```ts name=a\nconsole.log(1);\n"));
    expect(err.code).toBe("E_FENCE_UNCLOSED");
    expect(err.describe()).toBe("open.md:3: this cell's fence is never closed: end it with ```");
  });

  it("finds the bad byte of a megabyte page in one pass", () => {
    const bytes = Buffer.concat([Buffer.from("ok\n".repeat(400_000)), Buffer.from([0xc3, 0x28])]);
    const started = performance.now();
    expect(error(() => decodeUtf8("big.md", bytes)).line).toBe(400_001);
    // Not a benchmark: one pass takes milliseconds; decoding every prefix again took minutes.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it("rejects bytes that are not UTF-8, naming their line", () => {
    const bytes = Buffer.concat([Buffer.from("line one\nline two \xff\n", "latin1")]);
    const err = error(() => decodeUtf8("bad.md", bytes));
    expect(err.describe()).toBe("bad.md:2: this page is not UTF-8: save it as UTF-8");
  });
});
