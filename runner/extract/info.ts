// A fence's info string -> its language and validated attributes: `ts name=x server needs=a,b`.
import { LecternError } from "../errors.ts";
import type { CellAttrs, Lang } from "../types.ts";

const LANGS: Record<string, Lang> = { ts: "ts", typescript: "ts", sh: "sh", bash: "bash", python: "python", py: "python", c: "c" };

/** The languages that make a fence a runnable cell; null for any other fence. */
export function cellLang(info: string): Lang | null {
  const word = info.trim().split(/\s+/)[0] ?? "";
  return Object.hasOwn(LANGS, word) ? LANGS[word]! : null;
}

export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

type Where = { file: string; line: number };

/** Splits `a=1 b="x y" flag c=/re/` into key/value pairs; a bare flag has value null. */
export function tokenizeInfo(rest: string, where: Where): [string, string | null][] {
  const out: [string, string | null][] = [];
  let i = 0;
  const n = rest.length;
  while (i < n) {
    while (i < n && /\s/.test(rest[i]!)) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && !/[\s=]/.test(rest[i]!)) i++;
    const key = rest.slice(keyStart, i);
    if (rest[i] !== "=") {
      out.push([key, null]);
      continue;
    }
    i++;
    if (rest[i] === '"') {
      i++;
      let value = "";
      let closed = false;
      while (i < n) {
        const c = rest[i]!;
        if (c === "\\" && i + 1 < n) {
          const e = rest[i + 1]!;
          // Only these escapes mean something; any other backslash stays (a regex's \d, say).
          value += e === "n" ? "\n" : e === "t" ? "\t" : e === '"' || e === "\\" ? e : "\\" + e;
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) throw new LecternError("E_ATTR_VALUE", `attribute ${key} has an unclosed quote: close it with "`, where);
      out.push([key, value]);
    } else if (rest[i] === "/") {
      // A regular expression runs to its closing slash, spaces included.
      const valueStart = i;
      i++;
      while (i < n && rest[i] !== "/") i += rest[i] === "\\" ? 2 : 1;
      if (i >= n) throw new LecternError("E_ATTR_VALUE", `attribute ${key} has an unclosed /regular expression/`, where);
      i++;
      while (i < n && /[a-z]/.test(rest[i]!)) i++;
      out.push([key, rest.slice(valueStart, i)]);
    } else {
      const valueStart = i;
      while (i < n && !/\s/.test(rest[i]!)) i++;
      out.push([key, rest.slice(valueStart, i)]);
    }
  }
  return out;
}

const KNOWN = ["name", "server", "needs", "with", "stdin", "expect", "exit", "timeout", "skip", "ready", "nocheck", "exercise", "solution", "host"];

type Bad = (what: string) => LecternError;

/** Cell names separated by commas, as needs= and with= take them. */
function names(value: string, bad: Bad): string[] {
  const list = value.split(",").map((s) => s.trim());
  for (const name of list) {
    if (!NAME_PATTERN.test(name)) throw bad(`"${name}" is not a cell name`);
  }
  return list;
}

/** What each attribute that takes a value does with it, on attributes already defaulted. */
const VALUED: Record<string, (attrs: CellAttrs, value: string, bad: Bad) => void> = {
  needs: (attrs, v, bad) => void (attrs.needs = names(v, bad)),
  with: (attrs, v, bad) => void (attrs.with = names(v, bad)),
  expect: (attrs, v, bad) => {
    if (v !== "error" && !/^[A-Z][A-Z0-9_]*$/.test(v)) throw bad('expect takes "error" or an error code such as ECONNREFUSED');
    attrs.expect = v;
  },
  exit: (attrs, v, bad) => {
    if (!/^\d{1,3}$/.test(v) || Number(v) > 255) throw bad("exit takes a status from 0 to 255");
    attrs.exit = Number(v);
  },
  timeout: (attrs, raw, bad) => {
    const v = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (!(v >= 0.01 && v <= 3600)) throw bad("timeout takes a number of seconds, from 0.01 to 3600");
    attrs.timeout = v;
  },
  // The page's network block says which hosts there are (plan.ts checks the name against it).
  host: (attrs, v, bad) => {
    if (!NAME_PATTERN.test(v)) throw bad(`"${v}" is not a host name`);
    attrs.host = v;
  },
  // The exercise this cell answers (the pairing is checked with the page's cells: exercises.ts).
  solution: (attrs, v, bad) => {
    if (!NAME_PATTERN.test(v)) throw bad(`"${v}" is not a cell name`);
    attrs.solution = v;
  },
  ready: (attrs, v, bad) => {
    const m = /^\/(.*)\/([imsu]*)$/s.exec(v);
    if (!m) throw bad("ready takes a regular expression between slashes, as in ready=/listening/");
    try {
      attrs.ready = new RegExp(m[1]!, m[2]);
    } catch (err) {
      throw bad(`not a valid regular expression (${(err as Error).message})`);
    }
  },
};

const FLAGS = ["server", "skip", "nocheck", "exercise"] as const;

/** Parses a cell's info string; the name is returned apart because it has a page default. */
export function parseInfo(info: string, where: Where): { lang: Lang; name: string | null; attrs: CellAttrs } {
  const trimmed = info.trim();
  const lang = cellLang(trimmed);
  if (lang === null) throw new LecternError("E_ATTR_VALUE", `"${trimmed}" is not a cell language`, where);
  const rest = trimmed.slice(trimmed.split(/\s+/)[0]!.length);
  const attrs: CellAttrs = { server: false, needs: [], with: [], stdin: null, expect: null, exit: null, timeout: null, skip: false, nocheck: false, ready: null };
  let name: string | null = null;
  const seen = new Set<string>();
  for (const [key, value] of tokenizeInfo(rest, where)) {
    if (!KNOWN.includes(key)) {
      throw new LecternError("E_ATTR_UNKNOWN", `unknown attribute "${key}": a cell takes ${KNOWN.join(", ")}`, where);
    }
    if (seen.has(key)) throw new LecternError("E_ATTR_VALUE", `attribute ${key} is given twice`, where);
    seen.add(key);
    const bad = (what: string) => new LecternError("E_ATTR_VALUE", `${key}=${value ?? ""}: ${what}`, where);
    if ((FLAGS as readonly string[]).includes(key)) {
      if (value !== null) throw bad(`${key} is a flag and takes no value`);
      attrs[key as (typeof FLAGS)[number]] = true;
    } else if (key === "stdin") {
      attrs.stdin = value ?? "";
    } else {
      if (value === null || value === "") throw bad(`${key} needs a value, as in ${key}=...`);
      if (key === "name") {
        if (!NAME_PATTERN.test(value)) throw bad("a name starts with a letter and has only letters, digits, - and _ (at most 64)");
        name = value;
      } else {
        VALUED[key]!(attrs, value, bad);
      }
    }
  }
  if (attrs.ready && !attrs.server) throw new LecternError("E_ATTR_VALUE", "ready= is for server cells: add server", where);
  // An exercise is a starter for the student: shown, not run (its solution runs; grade runs the students').
  if (attrs.exercise) attrs.skip = true;
  return { lang, name, attrs };
}
