// Starts reveal.js on a Lectern slides page (NAME.slides.html). It is a file of its own because
// the page's Content-Security-Policy runs no inline script. The slide number is in the URL
// (#/3), N shows or hides the speaker notes on the slide (reveal's speaker window writes an
// inline script, which the policy forbids), and a block that does not fit its 1280x720 slide
// scrolls and is marked, so nothing is cut off without a sign.
(function () {
  "use strict";
  var showNotes = /[?&]notes(?:[=&]|$)/.test(location.search);

  // A block with more than it shows gets a class its stylesheet turns into a visible sign.
  function markOverflow() {
    var slide = Reveal.getCurrentSlide();
    if (!slide) return;
    var blocks = [slide].concat(Array.prototype.slice.call(slide.querySelectorAll("div.code, div.code pre, .output, .output pre, .trace, .scroll")));
    blocks.forEach(function (el) {
      el.classList.toggle("more-below", el.scrollHeight > el.clientHeight + 1);
      el.classList.toggle("more-right", el.scrollWidth > el.clientWidth + 1);
    });
  }

  Reveal.initialize({
    hash: true,
    width: 1280,
    height: 720,
    margin: 0.04,
    center: false,
    display: "flex",
    slideNumber: "c/t",
    transition: "none",
    showNotes: showNotes,
    keyboard: {
      78: function () {
        showNotes = !showNotes;
        Reveal.configure({ showNotes: showNotes });
      },
    },
  }).then(markOverflow);
  Reveal.on("slidechanged", markOverflow);
  Reveal.on("resize", markOverflow);
  // A block that scrolls to its end no longer has more below.
  document.addEventListener("scroll", function (event) {
    var el = event.target;
    if (!(el instanceof Element) || !el.closest(".reveal")) return;
    el.classList.toggle("more-below", el.scrollTop + el.clientHeight < el.scrollHeight - 1);
    el.classList.toggle("more-right", el.scrollLeft + el.clientWidth < el.scrollWidth - 1);
  }, true);
})();
