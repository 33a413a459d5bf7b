// Inlined in <head> by {% theme_script %} (config/inline_script.py) so the reader's chosen theme
// applies before the first paint with no request of its own; lines starting // are left out.
// The choice lives in localStorage, never in a cookie (it needs no consent and the server
// never sees it, so cached pages stay the same for everyone).
(function () {
  "use strict";
  try {
    var theme = localStorage.getItem("theme");
    if (theme === "light" || theme === "dark") document.documentElement.setAttribute("data-theme", theme);
  } catch (e) { /* storage blocked: the system preference applies */ }
})();
