// `lectern check`: every TypeScript cell type-checked in one program, each error at its page
// line and column, inside list items and block quotes too.
import { describe, expect, it } from "vitest";
import { checkPages, formatDiagnostic } from "../runner/doctest/typecheck.ts";
import { main } from "../runner/cli/cli.ts";
import { extractPage, readPage } from "../runner/extract/extract.ts";

const ERRORS = "test/fixtures/check/errors.md";
const CLEAN = "test/fixtures/check/clean.md";

async function lectern(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {} });
  return { code, stdout, stderr };
}

describe("lectern check", () => {
  it("reports each error at page:LINE:COL with its code, message and cell, then a summary; exit 1", async () => {
    const { code, stdout, stderr } = await lectern(["check", ERRORS, CLEAN]);
    expect(stdout).toBe(
      [
        `${ERRORS}:6:7: error TS2322: Type 'string' is not assignable to type 'number'. (cell top)`,
        `${ERRORS}:14:10: error TS2322: Type 'number' is not assignable to type 'string'. (cell in-list)`,
        `${ERRORS}:23:10: error TS2551: Property 'sendTo' does not exist on type 'Socket'. Did you mean 'send'? (cell in-quote)`,
        `${ERRORS}:29:11: error TS2304: Cannot find name 'missing'. (cell deep)`,
        `${ERRORS}:14: warning: cell "in-list" uses port "udp", which no server cell of this page serves, so nobody will answer; if that is the point, say so with expect=ECONNREFUSED (or expect=error)`,
        "4 errors in 6 cells of 2 pages",
        "1 warning (--strict makes them errors)",
        "",
      ].join("\n"),
    );
    expect(stderr).toBe("");
    expect(code).toBe(1);
  }, 30_000);

  it("passes clean cells: Node's types, lectern's port() and input(), top-level await, fetch; exit 0", async () => {
    const { code, stdout } = await lectern(["check", CLEAN]);
    expect(stdout).toBe("no errors in 2 cells of 1 page\n");
    expect(code).toBe(0);
  }, 30_000);

  it("exits 2 on an invalid page, checking nothing; every invalid page is named", async () => {
    // invalid-needs.md fails its plan, invalid-attr.md its reading: the first was lost to the second.
    const { code, stdout, stderr } = await lectern(["check", CLEAN, "test/fixtures/pages/invalid-needs.md", "test/fixtures/pages/invalid-attr.md"]);
    expect(stderr).toBe(
      'lectern: test/fixtures/pages/invalid-needs.md:5: cell "client" needs "server", which this page does not have (its cells: client) [E_NEEDS_UNKNOWN]\n' +
        'lectern: test/fixtures/pages/invalid-attr.md:9: unknown attribute "colour": a cell takes name, server, needs, with, stdin, expect, exit, timeout, skip, ready, nocheck, exercise, solution, host [E_ATTR_UNKNOWN]\n',
    );
    expect(stdout).toBe("");
    expect(code).toBe(2);
  });
});

describe("checkPages", () => {
  it("maps lines and columns through list indentation and block-quote markers, CRLF too", async () => {
    const source = "Intro\r\n\r\n- item\r\n\r\n  > ```ts name=a\r\n  > const ok = 1;\r\n  >     const bad: boolean = ok;\r\n  > ```\r\n";
    const { diagnostics } = await checkPages([extractPage("crlf.md", source)]);
    expect(diagnostics.map(formatDiagnostic)).toEqual(["crlf.md:7:15: error TS2322: Type 'number' is not assignable to type 'boolean'. (cell a)"]);
  });

  it("checks each cell as its own module: the same names in two cells do not clash", async () => {
    const page = extractPage("p.md", "```ts name=a\nconst x = 1;\nconsole.log(x);\n```\n\n```ts name=b\nconst x = 'two';\nconsole.log(x);\n```\n");
    expect(await checkPages([page])).toEqual({ diagnostics: [], cells: 2 });
  });

  it("gives every line of a long message, indented under the first", async () => {
    const page = extractPage("p.md", "```ts name=a\nconst f: (x: number) => void = (x: string) => console.log(x);\nf(1);\n```\n");
    expect((await checkPages([page])).diagnostics.map(formatDiagnostic)).toEqual([
      [
        "p.md:2:7: error TS2322: Type '(x: string) => void' is not assignable to type '(x: number) => void'. (cell a)",
        "    Types of parameters 'x' and 'x' are incompatible.",
        "      Type 'number' is not assignable to type 'string'.",
      ].join("\n"),
    ]);
  });

  it("reports syntax errors as diagnostics, not as an invalid page", async () => {
    const page = extractPage("p.md", "```ts name=a\nconst = 1;\n```\n");
    expect((await checkPages([page])).diagnostics.map(formatDiagnostic)).toEqual([
      "p.md:2:7: error TS1134: Variable declaration expected. (cell a)",
      "p.md:2:9: error TS1134: Variable declaration expected. (cell a)",
    ]);
  });

  it("a cell nested deeper than the compiler can go is an error at its first line; the other cells are still checked", async () => {
    const deep = "const x = " + "(".repeat(20_000) + "1" + ")".repeat(20_000) + ";";
    const page = extractPage("p.md", "```ts name=deep\n" + deep + "\n```\n\n```ts name=b\nconst y: number = 'no';\n```\n");
    expect((await checkPages([page])).diagnostics.map(formatDiagnostic)).toEqual([
      "p.md:2:1: error RangeError: the cell is nested too deeply for the TypeScript compiler (it ran out of stack): split it into smaller expressions (cell deep)",
      "p.md:6:7: error TS2322: Type 'string' is not assignable to type 'number'. (cell b)",
    ]);
  });

  it("checks nothing when every cell says nocheck or is a shell cell", async () => {
    const page = extractPage("p.md", "```ts nocheck\nconst x: number = 'no';\n```\n\n```sh\necho hi\n```\n");
    expect(await checkPages([page])).toEqual({ diagnostics: [], cells: 0 });
  });

  it("type-checks the lecture itself without an error", async () => {
    const pages = await Promise.all(["notebook/lec2-http-recap.md", "notebook/lec3-socket-programming.md"].map(readPage));
    expect((await checkPages(pages)).diagnostics.map(formatDiagnostic)).toEqual([]);
  }, 30_000);
});
