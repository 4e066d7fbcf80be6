// Starts Swagger UI on the API document; kept out of the page so the CSP needs no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: node.dataset.url, domNode: node, deepLinking: false });
});
