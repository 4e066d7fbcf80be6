// Toasts: what an action did, in the one live region of base.html (#toasts). An htmx answer
// brings its message in an HX-Trigger "toast" event; a page brings it rendered (after a
// redirect). They stack (one of each message), go away after a few seconds or when clicked, and float at the bottom.
(() => {
  "use strict";
  const region = document.getElementById("toasts");
  if (!region) return;
  const LIFE = 6000;
  const still = window.matchMedia("(prefers-reduced-motion: reduce)");

  function dismiss(node) {
    if (!node.isConnected || node.classList.contains("leaving")) return;
    node.classList.add("leaving");
    window.setTimeout(() => node.remove(), still.matches ? 0 : 200);
  }

  function show(message, kind) {
    // The same message again (a setting saved twice in a row) replaces the one still shown,
    // rather than stacking a copy of it; it is announced again, as it is new.
    for (const shown of region.children) {
      if (shown.textContent === message && !shown.classList.contains("leaving")) shown.remove();
    }
    const node = document.createElement("p");
    node.className = kind === "error" ? "toast error" : "toast";
    node.textContent = message;
    node.addEventListener("click", () => dismiss(node));
    region.append(node);
    window.setTimeout(() => dismiss(node), LIFE);
  }

  region.classList.add("floating");
  // Those rendered with the page are put back a moment later, so that they are announced: a
  // live region speaks of what changes in it, not of what it held when the page came.
  const rendered = [...region.children].map((node) => [node.textContent, node.classList.contains("error") ? "error" : "ok"]);
  region.replaceChildren();
  if (rendered.length) window.setTimeout(() => rendered.forEach(([text, kind]) => show(text, kind)), 150);

  document.body.addEventListener("toast", (event) => {
    const detail = event.detail || {};
    if (typeof detail.message === "string" && detail.message) show(detail.message, detail.kind);
  });
})();
