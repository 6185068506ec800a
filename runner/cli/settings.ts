// What a page's front matter sets for its own run (`timeout:` and `jobs:`), checked before
// anything runs, and the lint warnings of the pages: what every command does between planning
// and running.
import { LecternError } from "../errors.ts";
import type { ExecuteOptions } from "../execute/execute.ts";
import { createLimiter, type Limiter } from "../execute/limit.ts";
import type { Io } from "../io.ts";
import { formatWarning, lintPlan, type Warning } from "../plan/lint.ts";
import { frontMatter } from "../render/pagemeta.ts";
import { slidesWanted } from "../render/slides.ts";
import type { Page, Plan } from "../types.ts";

export interface PageSettings {
  /** Seconds, for the page's cells without timeout=. */
  timeout: number | null;
  /** At most this many of the page's cells at once. */
  jobs: number | null;
}

/** The front matter's `timeout:` and `jobs:`; a value that is not a number is an error at its line. */
export function pageSettings(page: Page): PageSettings {
  const { data, lines } = frontMatter(page.source);
  const lineOf = (key: string) => 1 + page.source.split(/\r\n|\r|\n/).slice(0, lines).findIndex((l) => l.startsWith(`${key}:`));
  const number = (key: string, integer: boolean): number | null => {
    const raw = data[key];
    if (raw === undefined) return null;
    const n = Number(raw);
    if (raw === "" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      throw new LecternError("E_ATTR_VALUE", `front matter ${key}: takes a ${integer ? "whole " : ""}number above 0, not "${raw}"`, { file: page.path, line: lineOf(key) });
    }
    return n;
  };
  slidesWanted(page); // checked here, before anything runs; the site writer reads it again
  return { timeout: number("timeout", false), jobs: number("jobs", true) };
}

/** A slot of both limiters: the page's own and the run's. */
function nested(page: Limiter, run: Limiter): Limiter {
  return {
    size: Math.min(page.size, run.size),
    async acquire() {
      const mine = await page.acquire();
      const theirs = await run.acquire();
      return () => {
        theirs();
        mine();
      };
    },
  };
}

/** The options one page runs with: its front matter's timeout as the default, its jobs as a bound. */
export function pageOptions(plan: Plan, options: ExecuteOptions, settings = pageSettings(plan.page)): ExecuteOptions {
  return {
    ...options,
    timeout: settings.timeout ?? options.timeout,
    jobs: settings.jobs !== null ? nested(createLimiter(settings.jobs), options.jobs) : options.jobs,
  };
}

/**
 * Before anything runs: every page's front matter checked (all invalid pages reported at once,
 * exit 2) and the lint warnings printed on stderr. Returns the warnings.
 */
export async function preparePages(plans: Plan[], io: Io): Promise<Warning[]> {
  const errors: LecternError[] = [];
  for (const plan of plans) {
    try {
      pageSettings(plan.page);
    } catch (err) {
      if (!(err instanceof LecternError)) throw err;
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} invalid pages`);
  const warnings = (await Promise.all(plans.map(lintPlan))).flat();
  for (const w of warnings) io.stderr.write(`lectern: ${formatWarning(w)}\n`);
  return warnings;
}
