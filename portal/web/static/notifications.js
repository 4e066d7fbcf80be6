// Live notifications: keeps the unread badge in the header current and puts new
// notifications at the top of the notifications page, from the server-sent event stream.
(function () {
  "use strict";
  function start() {
    var badge = document.getElementById("unread-badge");
    if (!badge || !window.EventSource) return;
    var source = new EventSource(badge.dataset.stream);
    function show(count) {
      badge.textContent = count > 0 ? String(count) : "";
      badge.hidden = !(count > 0);
    }
    source.addEventListener("unread", function (event) {
      show(JSON.parse(event.data).unread);
    });
    source.addEventListener("notification", function (event) {
      var item = JSON.parse(event.data);
      show(item.unread);
      // Pages that show what it is about (a conversation) refresh themselves on it.
      document.body.dispatchEvent(new CustomEvent("portal-notification", { detail: item }));
      var list = document.getElementById("notification-list");
      if (!list) return;
      var row = document.createElement("li");
      row.className = "unread";
      row.dataset.kind = item.kind;
      var link = document.createElement("a");
      link.href = item.link;
      link.textContent = item.text;
      row.appendChild(link);
      if (item.when) {
        var when = document.createElement("span");
        when.className = "muted";
        var time = document.createElement("time");
        time.dateTime = item.created_at;
        time.title = item.date;
        time.textContent = item.when;
        when.appendChild(time);
        row.appendChild(document.createTextNode(" "));
        row.appendChild(when);
      }
      list.insertBefore(row, list.firstChild);
      var empty = document.getElementById("no-notifications");
      if (empty) empty.remove();
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
