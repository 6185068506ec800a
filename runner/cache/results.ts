// Cell results on disk in the cache folder, keyed by everything that can change them, so a
// rebuild runs only what an edit touched. A missing, corrupt or half-written entry is a miss.
import { networkKey } from "../network/spec.ts";
import { readFileSync } from "node:fs";
import { join, normalize } from "node:path";
import { writeAtomic } from "../atomic.ts";
import { sha, toolchainKey } from "../digest.ts";
import { toolStamp } from "../execute/languages.ts";
import { PACKAGE_JSON } from "../paths.ts";
import { validEntry } from "./schema.ts";
import { TraceRecords, wholeRecords } from "../trace/tracefile.ts";
import type { CellResult, Plan } from "../types.ts";

// 2: the trace stored as the cell's records, beside the result.
const FORMAT = "lectern-result-2";
const PACKAGE = JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version: string };
export const LECTERN_VERSION = PACKAGE.version;

/** What a cell's key is made of besides its plan: the local files it imports, by path; null when it does not compile. */
export type CellInputs = Map<string, Record<string, string> | null>;

/**
 * Each cell's key: its page's path, its code, fence info (attributes, stdin), effective timeout, the local files
 * it imports, the page's network, the keys of the cells it needs, and the Lectern and Node versions. Prose is not in
 * it. A cell without inputs has no key (its run says why), nor do the cells that need it.
 */
export function cellKeys(plan: Plan, inputs: CellInputs, defaultTimeout: number): Map<string, string | null> {
  const keys = new Map<string, string | null>();
  const byName = new Map(plan.cells.map((c) => [c.name, c]));
  const keyOf = (name: string): string | null => {
    if (keys.has(name)) return keys.get(name)!;
    const cell = byName.get(name)!;
    const files = inputs.get(name);
    const deps = [...cell.deps].sort().flatMap((dep) => [dep, keyOf(dep)]);
    const key =
      !files || deps.includes(null)
        ? null
        : sha(
            FORMAT,
            // The page too: a result carries its page's run (its ports, when it ran, the clients a
            // server saw), and a server and its clients are published from one run (rebuild.ts),
            // so the same server on two pages must not share an entry.
            normalize(plan.page.path),
            LECTERN_VERSION,
            process.version,
            toolchainKey(),
            cell.lang,
            toolStamp(cell.lang),
            cell.info,
            cell.code,
            // The network the cell runs on: another delay or loss is another run.
            networkKey(plan.page.network),
            String(cell.attrs.timeout ?? defaultTimeout),
            JSON.stringify(Object.entries(files).sort()),
            ...(deps as string[]),
          );
    keys.set(name, key);
    return key;
  };
  // Plans have no cycles (plan.ts checks), so the recursion ends.
  for (const cell of plan.cells) keyOf(cell.name);
  return keys;
}

function resultPath(cacheDir: string, key: string, ext: "json" | "trace" = "json"): string {
  return join(cacheDir, "results", `${key}.${ext}`);
}

interface Entry {
  format?: string;
  key?: string;
  result?: CellResult;
  /** Set when the trace is in `KEY.trace`, as the cell wrote it (TraceRecords.toJSON). */
  records?: { clock0?: unknown; sha256?: unknown };
}

/**
 * A stored result for a cell where the page has it now (the key leaves out prose and default
 * names), marked cached; null when there is none or it cannot be trusted.
 */
export function loadResult(cacheDir: string, key: string, cell: { name: string; line: number }): CellResult | null {
  try {
    const entry = validEntry(JSON.parse(readFileSync(resultPath(cacheDir, key), "utf8")));
    const r = entry?.result;
    if (!entry || entry.format !== FORMAT || entry.key !== key || !r) return null;
    const here = { name: cell.name, line: cell.line, cached: true };
    if (typeof entry.records?.clock0 === "number") {
      const records = new TraceRecords(readFileSync(resultPath(cacheDir, key, "trace")), entry.records.clock0);
      // Another store of the same key may have put its records there between our two files.
      if (records.digest() !== entry.records.sha256 || wholeRecords(records.bytes) !== records.bytes.length) return null;
      const { trace: _, ...rest } = r;
      return { ...rest, ...here, traceRecords: records };
    }
    return { ...r, ...here, trace: r.trace?.map((e) => ({ ...e, cell: cell.name })) };
  } catch {
    return null;
  }
}

/**
 * Stores a result. Its trace goes beside it as the records the cell wrote (one write; the
 * events of 10,000 datagrams as JSON took 40 ms to make and write), and the JSON entry after
 * it, with the records' digest: two stores of one key (two builds sharing the cache, or one
 * cell on two pages) can interleave their files, and an entry is only ever read with its own.
 */
export async function storeResult(cacheDir: string, key: string, result: CellResult): Promise<void> {
  // The trace is stored as its records, never decoded here.
  const { traceRecords: records, trace, ...rest } = result;
  const entry: Entry = { format: FORMAT, key, result: { ...rest, cached: false } };
  if (records && records.bytes.length > 0) {
    await writeAtomic(resultPath(cacheDir, key, "trace"), records.bytes);
    entry.records = records.toJSON();
  } else {
    entry.result!.trace = trace ?? [];
  }
  await writeAtomic(resultPath(cacheDir, key), JSON.stringify(entry));
}
