// /docs: Swagger UI over lawline's OpenAPI document (a file, not an inline script,
// so the pages' Content-Security-Policy holds here too).
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  // No validator badge: it would ask a public server about the document.
  validatorUrl: null,
});
