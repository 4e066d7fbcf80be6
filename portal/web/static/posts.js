/* Cross-posting pages: the browser's time zone for scheduling, removing a picture from a post
   being written, and a post's deliveries kept live (server-sent events, then htmx). */
(function () {
  "use strict";

  function timeZone() {
    var field = document.querySelector("[data-time-zone]");
    if (!field || !window.Intl) return;
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    if (!field.value) field.value = zone;
    var label = document.querySelector("[data-zone-label]");
    if (label) label.textContent = "(" + field.value + ")";
  }

  function removing() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("[data-remove-media]");
      if (!button) return;
      var item = button.closest(".media-item");
      var form = button.closest("form");
      if (item) item.remove();
      if (form) form.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  function live() {
    var holder = document.getElementById("deliveries");
    if (!holder || !holder.dataset.stream || !window.EventSource || !window.htmx) return;
    var source = new EventSource(holder.dataset.stream);
    source.addEventListener("deliveries", function () {
      window.htmx.ajax("GET", holder.dataset.refresh, { target: "#deliveries", swap: "outerHTML" });
    });
    window.addEventListener("pagehide", function () { source.close(); });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var fresh = document.getElementById("deliveries");
      if (fresh && !fresh.dataset.stream) source.close();
    });
  }

  function start() {
    timeZone();
    removing();
    live();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
