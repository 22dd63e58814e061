// Renders GET /v1/openapi.json with Swagger UI (shipped by Powertools, served by this app).
// The document's server is "/"; behind an API Gateway stage the API lives under a prefix
// (e.g. /api), so "Try it out" is pointed at the prefix this page was served from.
(function () {
  "use strict";
  var prefix = window.location.pathname.replace(/\/v1\/docs\/?$/, "");
  var target = document.getElementById("swagger-ui");

  fetch(prefix + "/v1/openapi.json", { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("GET /v1/openapi.json answered " + response.status); }
      return response.json();
    })
    .then(function (spec) {
      spec.servers = [{ url: window.location.origin + prefix, description: "this server" }];
      window.ui = SwaggerUIBundle({
        spec: spec,
        dom_id: "#swagger-ui",
        deepLinking: true,
        docExpansion: "list",
        filter: true,
        tagsSorter: "alpha",
        operationsSorter: "alpha",
        persistAuthorization: false,
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout"
      });
    })
    .catch(function (error) {
      target.textContent = "";
      var alert = document.createElement("p");
      alert.setAttribute("role", "alert");
      alert.textContent = "Could not load the API description: " + error.message;
      target.appendChild(alert);
    });
})();
