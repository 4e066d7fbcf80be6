// The share button (a[data-share]) hands the link to the phone's share sheet (Web Share API)
// where the browser has one, else copies it and says so; without JavaScript it is a plain link.
window.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("a[data-share]").forEach(function (link) {
    var status = document.getElementById(link.dataset.shareStatus);
    var timer = null;
    var say = function (text) {
      status.textContent = text;
      clearTimeout(timer);
      timer = setTimeout(function () { status.textContent = ""; }, 6000);
    };
    var copy = function () {
      navigator.clipboard.writeText(link.href).then(
        function () { say(link.dataset.copied); },
        function () { say(link.dataset.notCopied); }
      );
    };
    link.addEventListener("click", function (event) {
      var data = { title: link.dataset.shareTitle, text: link.dataset.shareText, url: link.href };
      var canCopy = navigator.clipboard && window.isSecureContext;
      if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
        event.preventDefault();
        navigator.share(data).catch(function (error) {
          // Closing the share sheet is an answer too; any other failure falls back to a copy.
          if (error.name === "AbortError") {
            return;
          }
          if (canCopy) {
            copy();
          } else {
            say(link.dataset.notCopied);
          }
        });
      } else if (canCopy) {
        event.preventDefault();
        copy();
      }
    });
  });
});
