// Start GOV.UK Frontend's components (character count, error summary focus, exclusive
// checkboxes). Pages work without it: every form posts and is checked on the server.
import { initAll } from "./govuk-frontend.min.js";

initAll();
