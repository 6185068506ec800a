// The scheduler from tables of cases, without processes: each case is a page's cells and a
// script of what happened to them, with the actions the scheduler must answer each step with.
import { describe, expect, it } from "vitest";
import { Scheduler, selectCells, type Action } from "../runner/execute/scheduler.ts";
import type { CellAttrs, Plan, PlannedCell, Status } from "../runner/types.ts";

interface Spec {
  server?: boolean;
  skip?: boolean;
  deps?: string[];
  after?: string[];
  together?: string[];
}

function planned(name: string, spec: Spec = {}): PlannedCell {
  const attrs: CellAttrs = {
    server: spec.server ?? false,
    needs: [],
    with: [],
    stdin: null,
    expect: null,
    exit: null,
    timeout: null,
    skip: spec.skip ?? false,
    nocheck: false,
    ready: null,
  };
  return { name, line: 1, lang: "ts", info: "ts", attrs, code: "", token: 0, expected: null, deps: spec.deps ?? [], after: spec.after ?? [], together: spec.together ?? [], ports: [] };
}

/** An action in words: `launch a+b`, `stop srv`, `not run c: failed (reason)`. */
function words(a: Action): string {
  if (a.type === "launch") return `launch ${a.cells.map((c) => c.name).join("+")}`;
  if (a.type === "stop") return `stop ${a.cell.name}`;
  return `not run ${a.cell.name}: ${a.status}${a.reason ? ` (${a.reason})` : ""}`;
}

/** One step of a script: `start X`, `ready X`, `end X STATUS [reason]`, `abort`, or null for the first look. */
function apply(s: Scheduler, step: string | null): void {
  if (step === null) return;
  const [verb, name, status, ...reason] = step.split(" ");
  if (verb === "start") s.running(name!);
  else if (verb === "ready") s.ready(name!);
  else if (verb === "end") s.ended(name!, status as Status, reason.length ? reason.join(" ") : null);
  else if (verb === "abort") s.abort();
  else throw new Error(`no such step: ${step}`);
}

interface Case {
  name: string;
  cells: PlannedCell[];
  keepServing?: boolean;
  /** Each step, then the actions it must give, in order. */
  script: [string | null, string[]][];
  done: boolean;
}

const srv = planned("srv", { server: true });
const cli = planned("cli", { deps: ["srv"] });

const cases: Case[] = [
  {
    name: "a client waits for its server to listen; the server stops once its client is done",
    cells: [srv, cli],
    script: [
      [null, ["launch srv"]],
      ["start srv", []],
      ["ready srv", ["launch cli"]],
      ["start cli", []],
      ["end cli passed", ["stop srv"]],
      ["end srv passed", []],
    ],
    done: true,
  },
  {
    name: "independent cells start at once",
    cells: [planned("a"), planned("b"), planned("c")],
    script: [
      [null, ["launch a", "launch b", "launch c"]],
      ["start a", []],
      ["end a passed", []],
      ["end b failed", []],
      ["end c timeout", []],
    ],
    done: true,
  },
  {
    name: "needs= a cell that is not a server waits for its end, whatever its status",
    cells: [planned("first"), planned("second", { deps: ["first"] })],
    script: [
      [null, ["launch first"]],
      ["start first", []],
      ["end first failed it exited with status 1", ["launch second"]],
      ["end second passed", []],
    ],
    done: true,
  },
  {
    name: "a server that ends before it listens breaks its clients, and what waits for them",
    cells: [srv, cli, planned("later", { deps: ["cli"] })],
    script: [
      [null, ["launch srv"]],
      ["start srv", []],
      [
        "end srv failed it exited with status 1",
        [
          'not run cli: failed (not started: server "srv" ended before it was ready (it exited with status 1))',
          "launch later",
        ],
      ],
      ["end later passed", []],
    ],
    done: true,
  },
  {
    name: "a skipped server fails its clients; skipped cells are not launched",
    cells: [planned("srv", { server: true, skip: true }), cli],
    script: [[null, ["not run srv: skipped", 'not run cli: failed (not started: needs server "srv", which was skipped)']]],
    done: true,
  },
  {
    name: "a second server of one port starts once the first has ended; the first stops when nobody needs it",
    cells: [srv, planned("srv2", { server: true, after: ["srv"] })],
    script: [
      [null, ["launch srv"]],
      ["start srv", []],
      ["ready srv", ["stop srv"]],
      ["end srv passed", ["launch srv2"]],
      ["start srv2", []],
      ["ready srv2", ["stop srv2"]],
      ["end srv2 passed", []],
    ],
    done: true,
  },
  {
    name: "a server nobody needs keeps serving under keepServing",
    cells: [srv],
    keepServing: true,
    script: [
      [null, ["launch srv"]],
      ["start srv", []],
      ["ready srv", []],
    ],
    done: false,
  },
  {
    name: "a server nobody needs stops once the other cells are done",
    cells: [srv, planned("alone")],
    script: [
      [null, ["launch srv", "launch alone"]],
      ["start srv", []],
      ["ready srv", []],
      ["end alone passed", ["stop srv"]],
    ],
    done: false,
  },
  {
    name: "Ctrl-C: what waits is interrupted before it started, what runs is left to end",
    cells: [srv, cli, planned("b", { deps: ["cli"] })],
    script: [
      [null, ["launch srv"]],
      ["start srv", []],
      [
        "abort",
        ["not run cli: skipped (interrupted before it started)", "not run b: skipped (interrupted before it started)"],
      ],
      ["end srv failed interrupted", []],
    ],
    done: true,
  },
  {
    name: "the safety net: cells that wait for each other are failed once nothing runs",
    cells: [planned("x", { deps: ["y"] }), planned("y", { deps: ["x"] })],
    script: [
      [
        null,
        ["not run x: failed (not started: it waits for cells that wait for it)", "not run y: failed (not started: it waits for cells that wait for it)"],
      ],
    ],
    done: true,
  },
  {
    name: "a dependency left out of the run (reused from the cache) counts as done",
    cells: [planned("cli2", { deps: ["gone"] })],
    script: [[null, ["launch cli2"]]],
    done: false,
  },
  {
    name: "ready before its process is running changes nothing; ready twice stops once",
    cells: [srv, cli],
    script: [
      [null, ["launch srv"]],
      ["ready srv", []],
      ["start srv", []],
      ["ready srv", ["launch cli"]],
      ["ready srv", []],
      ["end cli passed", ["stop srv"]],
      ["ready srv", []],
    ],
    done: false,
  },
];

// Three chat clients that wait for each other, and their server.
const chat = planned("chat", { server: true });
const client = (name: string, others: string[]) => planned(name, { deps: ["chat"], together: others });
const alice = client("alice", ["bob", "carol"]);
const bob = client("bob", ["alice", "carol"]);
const carol = client("carol", ["alice", "bob"]);

const groups: Case[] = [
  {
    name: "a with= group launches as one, once every cell of it may start",
    cells: [chat, alice, bob, carol],
    script: [
      [null, ["launch chat"]],
      ["start chat", []],
      ["ready chat", ["launch alice+bob+carol"]],
      ["start alice", []],
      ["start bob", []],
      ["start carol", []],
      ["end bob passed", []],
      ["end alice passed", []],
      ["end carol passed", ["stop chat"]],
    ],
    done: false,
  },
  {
    name: "a group waits for the dependencies of each of its cells",
    cells: [planned("setup"), planned("x", { together: ["y"] }), planned("y", { deps: ["setup"], together: ["x"] })],
    script: [
      [null, ["launch setup"]],
      ["start setup", []],
      ["end setup passed", ["launch x+y"]],
    ],
    done: false,
  },
  {
    name: "when one cell of a group cannot start, none of them does",
    cells: [chat, alice, bob, carol],
    script: [
      [null, ["launch chat"]],
      ["start chat", []],
      [
        "end chat failed it exited with status 1",
        [
          'not run alice: failed (not started: server "chat" ended before it was ready (it exited with status 1))',
          'not run bob: failed (not started: it runs with "alice", which could not start (server "chat" ended before it was ready (it exited with status 1)))',
          'not run carol: failed (not started: it runs with "alice", which could not start (server "chat" ended before it was ready (it exited with status 1)))',
        ],
      ],
    ],
    done: true,
  },
  {
    name: "Ctrl-C before a group starts: every cell of it is interrupted",
    cells: [chat, alice, bob, carol],
    script: [
      [null, ["launch chat"]],
      [
        "abort",
        [
          "not run alice: skipped (interrupted before it started)",
          "not run bob: skipped (interrupted before it started)",
          "not run carol: skipped (interrupted before it started)",
        ],
      ],
    ],
    done: false,
  },
];

describe("Scheduler", () => {
  it.each([...cases, ...groups])("$name", ({ cells, keepServing, script, done }) => {
    const s = new Scheduler(cells, keepServing);
    script.forEach(([step, want], i) => {
      apply(s, step);
      expect(s.next().map(words), `step ${i}: ${step ?? "first look"}`).toEqual(want);
    });
    expect(s.done).toBe(done);
  });
});

describe("selectCells", () => {
  const plan = (cells: PlannedCell[]): Plan => ({ page: { path: "p.md", source: "", tokens: [], cells, traces: [], network: null }, cells, ports: [] });
  const names = (cells: PlannedCell[]) => cells.map((c) => c.name);
  const page = plan([chat, alice, bob, carol, planned("other")]);

  it.each([
    { only: ["alice"], reuse: [], want: ["chat", "alice", "bob", "carol"] },
    { only: ["carol"], reuse: ["alice", "bob"], want: ["chat", "alice", "bob", "carol"] },
    { only: ["other"], reuse: [], want: ["other"] },
    { only: undefined, reuse: [], want: ["chat", "alice", "bob", "carol", "other"] },
  ])("--cell $only (done: $reuse) runs $want", ({ only, reuse, want }) => {
    expect(names(selectCells(page, only, new Set(reuse)))).toEqual(want);
  });
});
