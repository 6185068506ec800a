// Lectern live notebook: the script `lectern serve` adds to its pages (a built site never has it).
// Every cell gets Run, Stop, Edit, Save to page and Reset. Output arrives over the page's event
// stream (Server-Sent Events) as it is printed, and goes into the page as text, never as HTML.
// Edits not yet saved are kept in localStorage, so they survive a reload.
import { EditorView, basicSetup } from "codemirror";
import { javascript } from "@codemirror/lang-javascript";

const data = readData();
const page = data ? data.page : decodeURIComponent(location.pathname.replace(/^\/+/, "")) || "index.html";
const cells = new Map((data ? data.cells : []).map((c) => [c.name, c]));
const editors = new Map();
const EDITOR_THEME = EditorView.theme({
  "&": { maxHeight: "32rem", fontSize: "0.9rem" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
});
const storeKey = (name) => `lectern-edit:${page}:${name}`;

function readData() {
  const el = document.getElementById("lectern-live");
  return el ? JSON.parse(el.textContent) : null;
}

const sectionOf = (name) => document.getElementById(`cell-${name}`);

function stored(name) {
  try {
    const raw = localStorage.getItem(storeKey(name));
    return raw === null ? null : JSON.parse(raw);
  } catch (e) {
    return null;
  }
}

function remember(name, code) {
  try {
    if (code === null) localStorage.removeItem(storeKey(name));
    else localStorage.setItem(storeKey(name), JSON.stringify({ code }));
  } catch (e) {
    /* not kept across a reload; the edit itself stays */
  }
}

function button(label, onClick, cls) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = `live-button ${cls}`;
  b.addEventListener("click", onClick);
  return b;
}

/** A line under the cell's header: a message for the reader (an error, a port, "edited"). */
function note(name, text, kind) {
  const section = sectionOf(name);
  let p = section.querySelector(`.live-note-${kind}`);
  if (text === null) return p && p.remove();
  if (!p) {
    p = document.createElement("p");
    p.className = `live-note live-note-${kind}`;
    if (kind === "error") p.setAttribute("role", "alert");
    section.querySelector(".live-bar").after(p);
  }
  p.textContent = text;
}

async function post(action, body) {
  const res = await fetch(`/__lectern/${action}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ page, ...body }) });
  let answer = {};
  try {
    answer = await res.json();
  } catch (e) {
    answer = { error: `${res.status} ${res.statusText}` };
  }
  if (!res.ok) throw new Error(answer.error || `${res.status}`);
  return answer;
}

/** The code to run or save: the editor's, when the cell is being edited. */
const codeOf = (name) => (editors.has(name) ? editors.get(name).state.doc.toString() : cells.get(name).code);

function setEdited(name) {
  const edited = editors.has(name) && codeOf(name) !== cells.get(name).code;
  sectionOf(name).classList.toggle("live-edited", edited);
  note(name, edited ? "Edited here, not saved to the page." : null, "edited");
}

function openEditor(name, code) {
  if (editors.has(name)) return editors.get(name);
  const section = sectionOf(name);
  const original = section.querySelector(":scope > .code");
  const host = document.createElement("div");
  host.className = "live-editor";
  original.after(host);
  original.hidden = true;
  const cell = cells.get(name);
  // In a shadow root, CodeMirror's styles go into a constructed stylesheet, which the page's
  // Content-Security-Policy (style-src 'self', no inline <style>) allows as it is.
  const shadow = host.attachShadow({ mode: "open" });
  const view = new EditorView({
    doc: code,
    parent: shadow,
    root: shadow,
    extensions: [
      basicSetup,
      EDITOR_THEME,
      ...(cell.lang === "ts" ? [javascript({ typescript: true })] : []),
      EditorView.contentAttributes.of({ "aria-label": `Code of cell ${name}` }),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        const now = u.state.doc.toString();
        remember(name, now === cell.code ? null : now);
        setEdited(name);
      }),
    ],
  });
  editors.set(name, view);
  setEdited(name);
  return view;
}

function reset(name) {
  const view = editors.get(name);
  remember(name, null);
  if (view) {
    view.destroy();
    editors.delete(name);
    const section = sectionOf(name);
    section.querySelector(".live-editor").remove();
    section.querySelector(":scope > .code").hidden = false;
  }
  setEdited(name);
}

async function act(name, action, body) {
  note(name, null, "error");
  try {
    return await post(action, { cell: name, ...body });
  } catch (err) {
    note(name, `${action === "save" ? "Not saved" : action === "run" ? "Not run" : "Not stopped"}: ${err.message}`, "error");
    return null;
  }
}

function decorate(name) {
  const section = sectionOf(name);
  if (!section || section.querySelector(".live-bar")) return;
  const bar = document.createElement("div");
  bar.className = "live-bar";
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", `Cell ${name}`);
  const cell = cells.get(name);
  if (!cell.skip) bar.append(button("Run", () => act(name, "run", editors.has(name) ? { code: codeOf(name) } : {}), "live-run"));
  const stop = button("Stop", () => act(name, "stop", {}), "live-stop");
  stop.hidden = true;
  bar.append(
    stop,
    button("Edit", () => openEditor(name, cell.code).focus(), "live-edit"),
    button("Save to page", async () => {
      if (await act(name, "save", { code: codeOf(name) })) {
        remember(name, null);
        note(name, "Saved to the page.", "edited");
      }
    }, "live-save"),
    button("Reset", () => reset(name), "live-reset"),
  );
  section.querySelector(".cell-header").after(bar);
  const kept = stored(name);
  if (kept && kept.code !== cell.code) openEditor(name, kept.code);
}

// ---- what the server says ----

function statusBadge(section) {
  return section.querySelector(".cell-header .status:not(.status-differs)");
}

function liveOutput(name) {
  const section = sectionOf(name);
  let out = section.querySelector(".live-output");
  if (!out) {
    for (const old of section.querySelectorAll(":scope > .output, :scope > .differs, :scope > details.differs")) old.remove();
    out = document.createElement("div");
    out.className = "output live-output";
    out.setAttribute("aria-live", "polite");
    out.append(document.createElement("pre"));
    (section.querySelector(".live-editor") || section.querySelector(":scope > .code")).after(out);
  }
  return out.firstChild;
}

function started(name, text, ports) {
  const section = sectionOf(name);
  if (!section || !cells.has(name)) return;
  section.classList.add("live-running");
  const badge = statusBadge(section);
  if (badge) {
    badge.className = "status status-running";
    badge.textContent = "running";
  }
  section.querySelector(".live-stop").hidden = false;
  const pre = liveOutput(name);
  pre.textContent = "";
  if (text) pre.append(text);
  if (ports) serving(name, ports);
}

function output(name, stream, text) {
  if (!sectionOf(name) || !cells.has(name)) return;
  const pre = liveOutput(name);
  if (stream === "stderr" || stream === "stdin") {
    // Typed input as the static page shows it: a <kbd class="stdin">, its text as text.
    const span = document.createElement(stream === "stdin" ? "kbd" : "span");
    span.className = stream;
    span.textContent = text;
    pre.append(span);
  } else pre.append(text);
}

function serving(name, ports) {
  const list = Object.entries(ports).map(([n, p]) => `${n}=${p}`).join(", ");
  note(name, `Serving${list ? ` on 127.0.0.1, port ${list}` : ""}: talk to it from a terminal; Stop ends it.`, "serving");
}

function ended(name, status) {
  const section = sectionOf(name);
  if (!section || !cells.has(name)) return;
  section.classList.remove("live-running");
  section.querySelector(".live-stop").hidden = true;
  note(name, null, "serving");
  const badge = statusBadge(section);
  if (badge) badge.textContent = status;
}

/** After a run: the page as the server now renders it gives the cell's transcript, status, time and diagrams. */
async function refresh(names) {
  const res = await fetch(location.pathname, { cache: "no-store" });
  if (!res.ok) return;
  const fresh = new DOMParser().parseFromString(await res.text(), "text/html");
  for (const name of names) {
    const mine = sectionOf(name);
    const theirs = fresh.getElementById(`cell-${name}`);
    if (!mine || !theirs || mine.classList.contains("live-running")) continue;
    for (const child of [...mine.children]) if (!child.matches(".cell-header, .code, .live-bar, .live-editor, .live-note")) child.remove();
    for (const child of [...theirs.children]) if (!child.matches(".cell-header, .code")) mine.append(document.adoptNode(child));
    const header = mine.querySelector(".cell-header");
    for (const badge of header.querySelectorAll(".status")) badge.remove();
    for (const badge of theirs.querySelectorAll(".cell-header .status")) header.append(document.adoptNode(badge));
    mine.className = `${theirs.className}${mine.classList.contains("live-edited") ? " live-edited" : ""}`;
  }
  for (const figure of fresh.querySelectorAll("figure.trace[id]")) {
    const old = document.getElementById(figure.id);
    if (old) old.replaceWith(document.adoptNode(figure));
    else {
      const before = figure.previousElementSibling;
      const anchor = before && before.id ? document.getElementById(before.id) : null;
      if (anchor) anchor.after(document.adoptNode(figure));
    }
  }
  const summary = fresh.querySelector(".run-summary");
  const old = document.querySelector(".run-summary");
  if (summary && old) old.replaceWith(document.adoptNode(summary));
}

const ran = new Set();
function onEvent(event) {
  switch (event.type) {
    case "reload":
      return location.reload();
    case "snapshot":
      for (const r of event.running) started(r.cell, r.text, r.ports);
      return;
    case "start":
      ran.add(event.cell);
      return started(event.cell, "", null);
    case "output":
      return output(event.cell, event.stream, event.text);
    case "serving":
      return serving(event.cell, event.ports);
    case "end":
      return ended(event.cell, event.status);
    case "error":
      return note(event.cell, event.message, "error");
    case "done": {
      const names = [...new Set([...ran, event.cell])];
      ran.clear();
      return void refresh(names);
    }
  }
}

for (const name of cells.keys()) decorate(name);
const stream = new EventSource(`/__lectern/events?page=${encodeURIComponent(page)}`);
stream.onmessage = (m) => onEvent(JSON.parse(m.data));
document.documentElement.classList.add("lectern-live");
