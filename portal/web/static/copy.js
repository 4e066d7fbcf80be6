// Copy buttons: a button[data-copy] copies the value of the field it names (or the text of the
// element, for a number or a code shown once) and says so for a moment. The buttons are hidden
// until this script shows them, so without JavaScript there is no button that does nothing:
// the field or the code can still be selected by hand. Buttons that htmx swaps in are shown too.
(function () {
  "use strict";
  function text(target) {
    return "value" in target && typeof target.value === "string" ? target.value : target.textContent.trim();
  }
  function select(target) {
    if (typeof target.select === "function") {
      target.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function show(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var target = document.getElementById(button.dataset.copy);
    if (!target) return;
    select(target);
    if (!button.dataset.label) button.dataset.label = button.textContent;
    var done = function () {
      button.textContent = button.dataset.copied || "✓";
      setTimeout(function () { button.textContent = button.dataset.label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text(target)).then(done, function () {});
    } else if (document.execCommand("copy")) {
      done();
    }
  });
  document.addEventListener("DOMContentLoaded", function () { show(document); });
  document.addEventListener("htmx:load", function (event) { show(event.target); });
})();
