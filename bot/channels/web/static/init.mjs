// Start GOV.UK Frontend's components (character count, error summary focus, exclusive
// checkboxes). Pages work without it: every form posts and is checked on the server.
import { initAll } from "./govuk-frontend.min.js";

initAll();

// A page the browser keeps in its back-forward cache would show answers and a step from
// before the person moved on: ask the server for it again (pages are also sent no-store).
window.addEventListener("pageshow", (event) => {
  if (event.persisted) {
    window.location.reload();
  }
});
