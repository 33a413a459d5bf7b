// Admin Pool page: every few seconds, fetch the page's numbers (an HTML fragment the server
// renders from the same template, escaped there) and swap it in; Pause stops that, Resume
// starts it again. Without this script the page still works: its Reload link reloads it.
(function () {
  "use strict";
  function start(root) {
    var url = root.getAttribute("data-live-url");
    var every = parseInt(root.getAttribute("data-refresh-ms"), 10) || 5000;
    var button = root.querySelector(".kb-pool__pause");
    var state = root.querySelector(".kb-pool__state");
    var paused = false;
    var timer = null;

    function say(text) { if (state.textContent !== text) state.textContent = text; }
    function schedule(delay) {
      clearTimeout(timer);
      if (!paused) timer = setTimeout(refresh, delay);
    }
    function swap(html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("kb-pool-live");
      var current = document.getElementById("kb-pool-live");
      if (!fresh || !current) return false;
      // Keep what the reader opened and where the keyboard is.
      current.querySelectorAll("details[id]").forEach(function (old) {
        var twin = fresh.querySelector("#" + CSS.escape(old.id));
        if (twin) twin.open = old.open;
      });
      var focused = current.contains(document.activeElement) ? document.activeElement.id : "";
      current.replaceWith(document.adoptNode(fresh));
      if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
      return true;
    }
    function stop(reason) {
      paused = true;
      clearTimeout(timer);
      button.hidden = true;
      say("Live updates stopped (" + reason + "): use Reload.");
    }
    function refresh() {
      if (document.hidden) { schedule(every); return; }
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          // Signed out: the admin sends the request to its login page.
          if (response.redirected) return stop("signed out");
          if (response.status === 403) return stop("no permission");
          if (!response.ok) { say("The server answered " + response.status + "; trying again."); return schedule(every * 2); }
          return response.text().then(function (html) {
            if (paused) return;
            if (!swap(html)) return stop("unexpected reply");
            say("Live: updated every " + every / 1000 + " s.");
            schedule(every);
          });
        })
        .catch(function () {
          if (paused) return;
          say("The server could not be reached; trying again.");
          schedule(every * 2);
        });
    }
    button.addEventListener("click", function () {
      paused = !paused;
      button.textContent = paused ? "Resume" : "Pause";
      if (paused) {
        clearTimeout(timer);
        say("Paused: the numbers stay as they are.");
      } else {
        say("Live: updated every " + every / 1000 + " s.");
        refresh();
      }
    });
    button.hidden = false;
    say("Live: updated every " + every / 1000 + " s.");
    schedule(every);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".kb-pool[data-live-url]").forEach(start);
  });
})();
