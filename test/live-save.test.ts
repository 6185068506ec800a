// Save to page (runner/live/save.ts): only the cell's code changes, byte for byte the rest of the
// file stays, with its line endings and the cell's block-quote or list indentation.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { saveCell, SaveRefused } from "../runner/live/save.ts";
import { tmp } from "./helpers.ts";

async function saved(source: string, name: string, code: string): Promise<string> {
  const path = join(tmp(), "page.md");
  writeFileSync(path, source);
  await saveCell(path, name, code);
  return readFileSync(path, "utf8");
}

describe("save to page", () => {
  it("replaces only the cell's lines and keeps CRLF, the BOM and the other cells", async () => {
    const source = "\uFEFF# T\r\n\r\n```ts name=a\r\nconsole.log(1);\r\n```\r\n\r\nText  \r\n\r\n```ts name=b\r\nconsole.log(2);\r\n```\r\nend";
    expect(await saved(source, "a", "const x = 3;\n\nconsole.log(x);\n")).toBe(source.replace("console.log(1);\r\n", "const x = 3;\r\n\r\nconsole.log(x);\r\n"));
  });

  it("keeps the block quote's markers and the list item's indentation on every code line", async () => {
    const quoted = "# T\n\n> Quote\n>\n> ```ts name=q\n> console.log(1);\n> ```\n> after\n";
    expect(await saved(quoted, "q", "let a = 1;\n\nconsole.log(a);")).toBe("# T\n\n> Quote\n>\n> ```ts name=q\n> let a = 1;\n>\n> console.log(a);\n> ```\n> after\n");
    const listed = "1. Step\n\n   ```ts name=l\n   console.log(1);\n   ```\n2. Next\n";
    expect(await saved(listed, "l", "console.log(2);\n  indented();\n")).toBe("1. Step\n\n   ```ts name=l\n   console.log(2);\n     indented();\n   ```\n2. Next\n");
    const opener = "- ```ts name=m\n  old();\n  ```\n- next\n";
    expect(await saved(opener, "m", "fresh();\n")).toBe("- ```ts name=m\n  fresh();\n  ```\n- next\n");
  });

  it("refuses code that would close the fence early, and a cell that is gone, writing nothing", async () => {
    const source = "# T\n\n```ts name=a\nconsole.log(1);\n```\n\n```ts name=b\nb();\n```\n";
    const path = join(tmp(), "page.md");
    writeFileSync(path, source);
    const refused = (p: Promise<void>) => p.then(() => null, (e: unknown) => (e instanceof SaveRefused ? [e.status, e.message] : e));
    expect(await refused(saveCell(path, "a", "x();\n```\n\n```ts name=c\ny();\n"))).toEqual([409, expect.stringContaining("not saved")]);
    expect(await refused(saveCell(path, "gone", "x();\n"))).toEqual([409, `${path} has no cell "gone" any more: reload the page`]);
    expect(readFileSync(path, "utf8")).toBe(source);
  });
});
