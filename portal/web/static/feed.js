// The feed page: the notice of new entries (server-sent events from /feed/stream, as the
// notifications' badge does), the keyboard's shortcuts (j/k next and previous entry, o open
// it, m read or unread, s star), and the focus kept on a button htmx swapped in place.
(function () {
  "use strict";

  function entries() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-entry]"));
  }

  function current() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("[data-entry]") : null;
  }

  function move(step) {
    var all = entries();
    if (!all.length) return;
    var at = all.indexOf(current());
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : at + step;
    if (next < 0 || next >= all.length) return;
    var entry = all[next];
    entry.focus({ preventScroll: true });
    entry.scrollIntoView({ block: "nearest" });
    // The last one near: the next page comes as the "Older entries" link is revealed.
  }

  function press(key) {
    var entry = current();
    if (!entry) return false;
    if (key === "o") {
      var link = entry.querySelector("[data-open]");
      if (link) link.click();
      return !!link;
    }
    var button = entry.querySelector('button[data-key="' + key + '"]');
    if (button) button.click();
    return !!button;
  }

  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, select, textarea, [contenteditable], summary");
  }

  function keys() {
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
      if (typing(event.target)) return;
      var key = event.key;
      var done = false;
      if (key === "j") { move(1); done = true; }
      else if (key === "k") { move(-1); done = true; }
      else if (key === "o" || key === "m" || key === "s") { done = press(key); }
      if (done) event.preventDefault();
    });
  }

  // htmx swaps an entry's buttons: the keyboard's place stays where it was, on the entry or on
  // the same button among the new ones, so that j, k, m and s go on from there.
  function refocus() {
    var wanted = null;
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      var active = document.activeElement;
      var entry = event.target.closest && event.target.closest("[data-entry]");
      if (!entry || !active || !entry.contains(active)) { wanted = null; return; }
      var actions = active.closest(".entry-actions");
      wanted = { element: active, actions: actions && actions.id, key: active.dataset.key };
    });
    document.body.addEventListener("htmx:afterSettle", function () {
      if (!wanted) return;
      var target = wanted.element;
      if (!target.isConnected && wanted.actions) {
        var fresh = document.getElementById(wanted.actions);
        target = fresh && fresh.querySelector('button[data-key="' + wanted.key + '"]');
      }
      var lost = !document.activeElement || document.activeElement === document.body;
      if (target && target.isConnected && lost) target.focus({ preventScroll: true });
      wanted = null;
    });
  }

  function news() {
    var holder = document.getElementById("feed-news");
    if (!holder || !holder.dataset.stream || !window.EventSource) return;
    var button = holder.querySelector("a");
    var source = new EventSource(holder.dataset.stream);
    source.addEventListener("newer", function (event) {
      var data = JSON.parse(event.data);
      button.textContent = data.text;
      button.hidden = !(data.count > 0);
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function start() {
    keys();
    refocus();
    news();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
