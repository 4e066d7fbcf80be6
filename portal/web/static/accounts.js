// The list of /me/accounts: Escape in the form that edits a handle in place cancels it, as its
// Cancel link does (through htmx, which then puts the focus back on the row's Edit button).
// Without JavaScript, Edit opens the list with the form in place, and Cancel is a link back.
"use strict";

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  const form = event.target instanceof Element ? event.target.closest("form.handle-form") : null;
  const cancel = form?.querySelector("[data-cancel]");
  if (!cancel) return;
  event.preventDefault();
  cancel.click();
});
