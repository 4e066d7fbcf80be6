// Starts Swagger UI on the API document; kept out of the page so the CSP needs no inline script.
// Swagger UI draws the request body's editor (after "Try it out") as a <textarea> without a
// name; each one it draws is named after the heading of its section, for screen readers.
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("swagger-ui");
  function nameEditors() {
    node.querySelectorAll("textarea.body-param__text:not([aria-label])").forEach(function (area) {
      var section = area.closest(".opblock-section-request-body");
      var heading = section && section.querySelector(".opblock-section-header h4");
      area.setAttribute("aria-label", heading ? heading.textContent.trim() : "Request body");
    });
  }
  new MutationObserver(nameEditors).observe(node, { childList: true, subtree: true });
  window.SwaggerUIBundle({ url: node.dataset.url, domNode: node, deepLinking: false });
});
