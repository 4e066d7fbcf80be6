// Installs the service worker (/sw.js) that keeps one's own pages readable offline, and tells it
// about this page: in which language it is, and, when nobody is signed in, to forget the pages
// it kept of whoever was. base.html says which in data-session: "in", "out", or "unknown" for a
// page that did not look at the session (an error page, for one), which changes nothing.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) {
    return;
  }
  var session = document.currentScript ? document.currentScript.dataset.session : "unknown";
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  navigator.serviceWorker.ready.then(function (registration) {
    var worker = registration.active;
    if (!worker) {
      return;
    }
    if (session === "out") {
      worker.postMessage({ type: "signed-out" });
    }
    worker.postMessage({ type: "language", lang: document.documentElement.lang });
  });
})();
