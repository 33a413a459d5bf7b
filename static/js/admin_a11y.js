// Admin: Django's filter_horizontal widget (SelectFilter2.js, run on window load) puts an
// aria-label on a plain <span> help icon, which ARIA does not allow on a generic element; as an
// image the label is its accessible name. Runs after SelectFilter2's own load handler.
window.addEventListener("load", function () {
  "use strict";
  document.querySelectorAll("span.help-tooltip[aria-label]:not([role])").forEach(function (icon) {
    icon.setAttribute("role", "img");
  });
});
