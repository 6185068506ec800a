// Lectern: a Copy button on every code block. Without JavaScript there is no button and the code
// is selected and copied as any text is; nothing else on the page depends on this file.
"use strict";
(function () {
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
})();
