// Grading: 50 submissions of a page with a UDP server and 3 exercises, `lectern grade` (each
// submission a sandboxed run of its own, with its own server) against `lectern run` of one page
// holding the same 150 student cells and the server. Both cold (a fresh --cache each run: every
// student's code is compiled, as in a real grading), both at the default --jobs; the grade's CPU
// use (user+sys of the process tree over wall time) says whether it kept both cores busy.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, CORES, NODE, QUICK, SLOW_RUNS, SMALL_ENV, exec, fmtMs, fmtRatio, log, median, ok, scratch, standalone, type Row } from "./lib.ts";

const fence = (info: string, code: string) => "```ts " + info + "\n" + code + "```\n\n";
const SERVER = `import dgram from "node:dgram";\nimport { port } from "lectern";\nconst s = dgram.createSocket("udp4");\ns.on("message", (m, r) => s.send(m.toString().toUpperCase(), r.port, r.address));\ns.bind(port("udp"), "127.0.0.1");\n`;

/** A student's answers; `n` makes each one's code its own, so each is compiled, as real ones are. */
const answers = (n: number): Record<string, string> => ({
  shout: `import dgram from "node:dgram";\nimport { port } from "lectern";\n// student ${n}\nconst c = dgram.createSocket("udp4");\nc.on("message", (m) => { console.log(\`reply: \${m}\`); c.close(); });\nc.send("hello", port("udp"), "127.0.0.1");\n`,
  total: `// student ${n}\nconst sizes = [3, 5, 8];\nconsole.log(\`total: \${sizes.reduce((a, b) => a + b, 0)}\`);\n`,
  words: `// student ${n}\nconst text = "the quick brown fox";\nconsole.log(\`words: \${text.split(" ").length}\`);\n`,
});
const CHECKS: Record<string, string> = { shout: "reply: HELLO", total: "total: 16", words: "words: 4" };

function labPage(): string {
  let page = "# Lab\n\n" + fence("name=echo server", SERVER);
  for (const [name, check] of Object.entries(CHECKS)) page += `## ${name}\n\n` + fence(`name=${name} exercise`, "// your code\n") + "```output\n" + check + "\n```\n\n";
  return page;
}

/** The baseline: the same 150 student cells on one page with the server, for `lectern run`. */
function allCellsPage(students: number): string {
  let page = "# All\n\n" + fence("name=echo server", SERVER);
  for (let n = 0; n < students; n++) for (const [name, code] of Object.entries(answers(n))) page += fence(`name=s${n}-${name}`, code);
  return page;
}

export default async function grade(): Promise<Row[]> {
  const students = QUICK ? 10 : 50;
  log(`\n## grade (${students} submissions of a 3-exercise page, cold, --jobs ${CORES * 2})`);
  const dir = scratch("grade");
  mkdirSync(join(dir, "page"));
  writeFileSync(join(dir, "page", "lab.md"), labPage());
  writeFileSync(join(dir, "all.md"), allCellsPage(students));
  const subs: string[] = [];
  for (let n = 0; n < students; n++) {
    const sub = join(dir, "subs", `s${n}`);
    mkdirSync(sub, { recursive: true });
    for (const [name, code] of Object.entries(answers(n))) writeFileSync(join(sub, `${name}.ts`), code);
    subs.push(sub);
  }
  let run = 0;
  const fresh = () => join(dir, `cache-${run++}`);
  const times: Record<string, number[]> = { grade: [], run: [] };
  const cpu: number[] = [];
  for (let i = 0; i < SLOW_RUNS; i++) {
    const g = ok(await exec(NODE, [BIN, "grade", join(dir, "page", "lab.md"), ...subs, "--cache", fresh(), "--out", join(dir, "grades")], { cwd: dir, env: SMALL_ENV, timeoutMs: 600_000, measure: true }), "lectern grade");
    if (!g.stdout.includes(`${students} of ${students} submissions passed every exercise`)) throw new Error(`lectern grade did not pass every submission:\n${g.stdout.slice(-2000)}`);
    const r = ok(await exec(NODE, [BIN, "run", join(dir, "all.md"), "--cache", fresh()], { cwd: dir, env: SMALL_ENV, timeoutMs: 600_000, measure: true }), "lectern run");
    times.grade!.push(g.ms);
    times.run!.push(r.ms);
    cpu.push(g.cpuS! / (g.ms / 1000));
    log(`grade ${fmtMs(g.ms)} (CPU ${g.cpuS!.toFixed(1)} s, ${(g.cpuS! / (g.ms / 1000)).toFixed(2)} cores) · run ${fmtMs(r.ms)} (CPU ${r.cpuS!.toFixed(1)} s)`);
  }
  const g = median(times.grade!);
  const r = median(times.run!);
  const busy = median(cpu);
  return [
    { part: "grade", measure: `lectern grade: ${students} submissions x 3 exercises, cold`, value: fmtMs(g), ratio: `${fmtRatio(g / r)} run`, target: "<= 1.5x run", met: g / r <= 1.5 },
    { part: "grade", measure: `lectern run: the same ${students * 3} cells on one page, cold`, value: fmtMs(r), ratio: "1.00x run" },
    { part: "grade", measure: "CPU use of the grade", value: `${busy.toFixed(2)} of ${CORES} cores`, target: "both busy", met: busy >= CORES * 0.75 },
  ];
}

await standalone(import.meta.url, grade);
