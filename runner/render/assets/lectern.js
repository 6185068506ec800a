// Lectern: the site's one script. It adds what needs a script: the theme toggle (remembered), a Copy
// button on code, the search box (MiniSearch and the index load on first use, from this site),
// and the contents' mark on the section being read. Without it every page still reads in full.
"use strict";
(function () {
  var root = document.documentElement;
  var THEME_KEY = "lectern-theme";

  function stored() {
    try { return localStorage.getItem(THEME_KEY); } catch (e) { return null; }
  }
  // Before the first paint: this file is loaded in <head> without defer.
  var saved = stored();
  if (saved === "light" || saved === "dark") root.setAttribute("data-theme", saved);
  root.classList.add("js");

  function effectiveTheme() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) return chosen;
    return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function themeToggle(header) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "theme-toggle";
    var label = function () {
      var dark = effectiveTheme() === "dark";
      button.setAttribute("aria-pressed", dark ? "true" : "false");
      button.setAttribute("aria-label", "Dark theme");
      button.title = dark ? "Dark theme: on" : "Dark theme: off";
    };
    button.addEventListener("click", function () {
      var next = effectiveTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem(THEME_KEY, next); } catch (e) { /* not remembered, still applied */ }
      label();
    });
    label();
    header.appendChild(button);
  }

  // ---- Copy -------------------------------------------------------------------------------
  function copied(button, text) {
    button.textContent = text;
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }

  // The old way, for browsers that keep the clipboard API from file:// pages.
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  function copy(button, code) {
    var text = code.textContent || "";
    var done = function () { copied(button, "Copied"); };
    var failed = function () {
      if (fallback(text)) return done();
      // Last resort: select the code, so Ctrl-C / Cmd-C copies it.
      var range = document.createRange();
      range.selectNodeContents(code);
      var selection = window.getSelection();
      if (selection) { selection.removeAllRanges(); selection.addRange(range); }
      copied(button, "Press Ctrl-C");
    };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, failed);
    else failed();
  }

  function copyButtons() {
    document.querySelectorAll("div.code").forEach(function (block) {
      var code = block.querySelector("code");
      if (!code) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy this code");
      button.addEventListener("click", function () { copy(button, code); });
      // A cell's button goes in its header, before the status; any other code block gets it in a corner.
      var header = block.parentElement && block.parentElement.classList.contains("cell") ? block.parentElement.querySelector(".cell-header") : null;
      var status = header ? header.querySelector(".status") : null;
      if (header) header.insertBefore(button, status);
      else block.appendChild(button);
    });
  }

  // ---- Search -----------------------------------------------------------------------------
  var engine = null;
  var loading = null;

  // The same words as the index was built with (runner/render/search.ts).
  function tokenize(text) {
    return text.split(/[^\p{L}\p{N}_]+/u).filter(function (w) { return w.length > 0; });
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(s);
    });
  }

  function loadIndex(assets) {
    if (loading) return loading;
    loading = new Promise(function (resolve) {
      window.lecternSearch = function (data) {
        var stop = new Set(data.stopWords);
        var processTerm = function (term) {
          var word = term.toLowerCase();
          return word.length < 2 || stop.has(word) ? null : word;
        };
        engine = MiniSearch.loadJS(data.index, { fields: data.fields, storeFields: data.storeFields, tokenize: tokenize, processTerm: processTerm });
        resolve(engine);
      };
    });
    loadScript(assets + "minisearch.js").then(function () { return loadScript(assets + "search-index.js"); });
    return loading;
  }

  function searchBox() {
    var box = document.querySelector(".search");
    if (!box) return;
    var input = box.querySelector("input");
    var list = box.querySelector(".search-results");
    var assets = box.getAttribute("data-assets") || "assets/";
    box.hidden = false;

    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); }
    function show(query) {
      if (!engine || query.trim() === "") return close();
      var hits = engine.search(query, { prefix: true, fuzzy: function (term) { return term.length > 4 ? 0.2 : 0; }, boost: { title: 3 }, combineWith: "AND" }).slice(0, 12);
      list.textContent = "";
      var status = document.createElement("p");
      status.className = "search-count";
      status.setAttribute("role", "status");
      status.textContent = hits.length ? hits.length + (hits.length === 12 ? "+ results" : hits.length === 1 ? " result" : " results") : "No results";
      list.appendChild(status);
      var ol = document.createElement("ol");
      hits.forEach(function (hit) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = hit.href;
        var title = document.createElement("span");
        title.className = "search-title";
        title.textContent = hit.title;
        a.appendChild(title);
        if (hit.where) {
          var where = document.createElement("span");
          where.className = "search-where";
          where.textContent = (hit.href.indexOf("#cell-") >= 0 ? "cell · " : "") + hit.where;
          a.appendChild(where);
        }
        a.addEventListener("click", close);
        li.appendChild(a);
        ol.appendChild(li);
      });
      list.appendChild(ol);
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    input.addEventListener("focus", function () { loadIndex(assets).then(function () { show(input.value); }); }, { once: true });
    input.addEventListener("input", function () { show(input.value); });
    // Arrow keys move between the input and the results; Escape closes them.
    box.addEventListener("keydown", function (event) {
      var links = Array.prototype.slice.call(list.querySelectorAll("a"));
      var at = links.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && links.length) { event.preventDefault(); links[Math.min(at + 1, links.length - 1)].focus(); }
      else if (event.key === "ArrowUp" && at >= 0) { event.preventDefault(); (at === 0 ? input : links[at - 1]).focus(); }
      else if (event.key === "Enter" && document.activeElement === input && links.length) { event.preventDefault(); links[0].click(); }
      else if (event.key === "Escape") { close(); input.focus(); }
    });
    document.addEventListener("click", function (event) { if (!box.contains(event.target)) close(); });
    document.addEventListener("keydown", function (event) {
      var t = event.target;
      var typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        input.focus();
        input.select();
      }
    });
  }

  // ---- The section being read -------------------------------------------------------------
  function readingMark() {
    var links = Array.prototype.slice.call(document.querySelectorAll(".toc a[href^='#']"));
    if (!links.length) return;
    var heads = [];
    links.forEach(function (a) {
      var el = document.getElementById(decodeURIComponent(a.getAttribute("href").slice(1)));
      if (el && heads.indexOf(el) < 0) heads.push(el);
    });
    var current = null;
    function update() {
      // The last heading above the upper third of the window is the section being read.
      var line = window.innerHeight / 3;
      var found = null;
      for (var i = 0; i < heads.length; i++) {
        if (heads[i].getBoundingClientRect().top <= line) found = heads[i]; else break;
      }
      if (found === current) return;
      current = found;
      links.forEach(function (a) {
        if (found !== null && a.getAttribute("href") === "#" + found.id) a.setAttribute("aria-current", "location");
        else a.removeAttribute("aria-current");
      });
    }
    var queued = false;
    window.addEventListener("scroll", function () {
      if (queued) return;
      queued = true;
      requestAnimationFrame(function () { queued = false; update(); });
    }, { passive: true });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var header = document.querySelector(".site-header");
    if (header) themeToggle(header);
    copyButtons();
    searchBox();
    readingMark();
  });
})();
