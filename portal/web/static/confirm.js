// A destructive action asks first (templates/partials/_confirm.html): its button opens the
// dialog of base.html with the action's question, Cancel focused; Escape or Cancel closes it
// and gives the focus back to the button; only "yes" sends the form, by htmx where it has
// hx-post. Without this script the same question opens in a disclosure.
(() => {
  "use strict";
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const question = dialog.querySelector("#confirm-question");
  const yes = dialog.querySelector("#confirm-yes");
  const cancel = dialog.querySelector("button[value=cancel]");
  let pending = null;

  function arm(root) {
    for (const box of root.querySelectorAll("[data-confirm]:not([data-armed])")) {
      const opener = box.querySelector(":scope > button");
      const details = box.querySelector(":scope > details");
      if (!opener || !details) continue;
      box.dataset.armed = "";
      opener.hidden = false;
      details.hidden = true;
      opener.addEventListener("click", () => ask(opener, details.querySelector("form")));
    }
  }

  function ask(opener, form) {
    if (!form || dialog.open) return;
    pending = { opener, form };
    question.textContent = form.querySelector(".confirm-question").textContent.trim();
    yes.textContent = form.querySelector("button[type=submit]").textContent.trim();
    dialog.returnValue = "";
    dialog.showModal();
    cancel.focus();
  }

  dialog.addEventListener("close", () => {
    if (!pending) return;
    const { opener, form } = pending;
    pending = null;
    if (dialog.returnValue === "confirm") {
      // After an htmx swap the button may be gone: the focus then goes to the page's content.
      document.body.addEventListener("htmx:afterSettle", () => {
        if (!opener.isConnected) document.getElementById("main")?.focus();
      }, { once: true });
      form.requestSubmit();
    } else if (opener.isConnected) {
      opener.focus();
    }
  });

  arm(document);
  // Lists swapped in by htmx bring their own buttons.
  document.addEventListener("htmx:load", (event) => arm(event.target));
})();
