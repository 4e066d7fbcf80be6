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
    if (entry.dataset.busy) {
      // The entry's buttons are being answered or swapped: press the new one once they are in
      // place (a form swapped in but not yet taken over by htmx would be sent as a page).
      entry.dataset.pending = key;
      return true;
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
  // the same button among the new ones, so that j, k, m and s go on from there. The place is
  // taken as each swap begins and given back once it is done, if the swap left the focus
  // nowhere. A key pressed while the entry's buttons are being answered waits for the new ones.
  function refocus() {
    var wanted = null;
    function entryOf(event) {
      return event.target.closest ? event.target.closest("[data-entry]") : null;
    }
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      var entry = entryOf(event);
      if (entry) entry.dataset.busy = "1";
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      var entry = entryOf(event);
      if (entry && !event.detail.successful) {
        delete entry.dataset.busy;
        delete entry.dataset.pending;
      }
    });
    // htmx:load comes from the new buttons once htmx has taken them over, in the page.
    document.body.addEventListener("htmx:load", function (event) {
      restore();
      var entry = entryOf(event);
      if (!entry || !entry.dataset.busy) return;
      delete entry.dataset.busy;
      var key = entry.dataset.pending;
      delete entry.dataset.pending;
      if (key && current() === entry) press(key);
    });
    document.body.addEventListener("htmx:beforeSwap", function () {
      var active = document.activeElement;
      var entry = active && active.closest ? active.closest("[data-entry]") : null;
      wanted = entry ? { entry: entry.id, key: active.dataset ? active.dataset.key : null } : null;
    });
    function restore() {
      if (!wanted) return;
      var lost = !document.activeElement || document.activeElement === document.body;
      var entry = document.getElementById(wanted.entry);
      if (lost && entry) {
        var button = wanted.key && entry.querySelector('button[data-key="' + wanted.key + '"]');
        (button || entry).focus({ preventScroll: true });
      }
      wanted = null;
    }
    document.body.addEventListener("htmx:afterSettle", restore);
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
