import { describe, expect, it } from "vitest";
import { LecternError } from "../runner/errors.ts";
import { extractPage } from "../runner/extract/extract.ts";
import { planPage } from "../runner/plan/plan.ts";
import { ts } from "./helpers.ts";

const plan = (source: string) => planPage(extractPage("lec.md", source));

async function failure(source: string): Promise<LecternError> {
  try {
    await plan(source);
  } catch (err) {
    if (err instanceof LecternError) return err;
    throw err;
  }
  throw new Error("expected the plan to fail");
}

describe("planPage", () => {
  it("finds the ports each cell names, and makes clients of a port's server need it", async () => {
    const p = await plan(
      ts("name=srv server", 'import { port } from "lectern";\nconst p: number = port("udp");') +
        ts("name=cli", 'import { port as P } from "lectern";\nP("udp"); P("udp"); P("other");') +
        ts("name=ns", 'import * as l from "lectern";\nl.port("tcp");') +
        "```bash name=sh\necho $LECTERN_PORT_UDP ${LECTERN_PORT_TCP}\n```\n",
    );
    expect(p.ports).toEqual(["udp", "other", "tcp"]);
    expect(p.cells.map((c) => [c.name, c.ports, c.deps])).toEqual([
      ["srv", ["udp"], []],
      ["cli", ["udp", "other"], ["srv"]],
      ["ns", ["tcp"], []],
      ["sh", ["udp", "tcp"], ["srv"]],
    ]);
  });

  it("runs two servers of one port one after the other, each with the clients below it", async () => {
    const srv = (n: string) => ts(`name=${n} server`, 'import { port } from "lectern";\nport("tcp");');
    const cli = (n: string) => ts(`name=${n}`, 'import { port } from "lectern";\nport("tcp");');
    const p = await plan(cli("early") + srv("simple") + cli("a") + srv("concurrent") + cli("b") + cli("c"));
    expect(p.cells.map((c) => [c.name, c.deps, c.after])).toEqual([
      ["early", ["simple"], []],
      ["simple", [], []],
      ["a", ["simple"], []],
      ["concurrent", [], ["simple"]],
      ["b", ["concurrent"], []],
      ["c", ["concurrent"], []],
    ]);
  });

  it("ignores a port() that is not the one from lectern", async () => {
    const p = await plan(ts("name=a", "const port = (s: string) => s.length;\nport(String(1));"));
    expect(p.cells[0]!.ports).toEqual([]);
  });

  it("rejects a port name that is not a string literal, at its line in the page", async () => {
    const err = await failure("# T\n\n" + ts("name=dyn", 'import { port } from "lectern";\nconst name = "udp";\n\nport(name);'));
    expect(err.code).toBe("E_PORT_DYNAMIC");
    expect(err.describe()).toBe('lec.md:7:1: cell "dyn": port() takes the port\'s name as a string literal, as in port("udp"), so Lectern knows it before the cell runs');
  });

  it("rejects port() under another name, which it could not follow", async () => {
    const err = await failure(ts("name=alias", 'import { port } from "lectern";\nconst p = port;\nconsole.log(p("zzz"));'));
    expect(err.describe()).toBe('lec.md:3:7: cell "alias": call port("name") itself; under another name Lectern cannot see which port it means before the cell runs');
  });

  it("rejects unknown needs, naming the cells there are", async () => {
    const err = await failure(ts("name=a", "") + ts("name=b needs=a,zed", ""));
    expect(err.describe()).toBe('lec.md:5: cell "b" needs "zed", which this page does not have (its cells: a, b)');
  });

  it("rejects a cycle, spelling it out", async () => {
    const err = await failure(ts("name=a needs=c", "") + ts("name=b needs=a", "") + ts("name=c needs=b", ""));
    expect(err.code).toBe("E_NEEDS_CYCLE");
    expect(err.describe()).toBe("lec.md:1: these cells wait for each other: a -> c -> b -> a");
  });

  it("rejects two servers of one port that wait for each other", async () => {
    const srv = (info: string) => ts(`name=${info} server`, 'import { port } from "lectern";\nport("p");');
    const err = await failure(srv("a needs=b") + srv("b"));
    expect(err.code).toBe("E_NEEDS_CYCLE");
    expect(err.describe()).toBe("lec.md:1: these cells wait for each other: a -> b -> a");
  });

  it("rejects a cell that needs itself", async () => {
    const err = await failure(ts("name=a needs=a", ""));
    expect(err.describe()).toBe('lec.md:1: cell "a" needs itself');
  });

  it("reports code that does not compile at its page line", async () => {
    const err = await failure("\n" + ts("name=broken", "const x = ;"));
    expect(err.code).toBe("E_COMPILE");
    expect(err.describe()).toBe('lec.md:3:11: cell "broken" does not compile: Unexpected ";"');
  });

  it("counts list indentation and block-quote markers in a column", async () => {
    const listed = await failure("- a list item\n\n  ```ts name=broken\n  const x = ;\n  ```\n");
    expect(listed.describe()).toBe('lec.md:4:13: cell "broken" does not compile: Unexpected ";"');
    const quoted = await failure('> ```ts name=dyn\n> import { port } from "lectern";\n> const n = "a"; port(n);\n> ```\n');
    expect(quoted.describe()).toBe('lec.md:3:18: cell "dyn": port() takes the port\'s name as a string literal, as in port("udp"), so Lectern knows it before the cell runs');
  });
});
