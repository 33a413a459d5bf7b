// Polls a run's status and updates the progress bar; reloads the page when the run ends.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box) return;
  var label = box.querySelector(".run-progress__label");
  var bar = box.querySelector("progress");
  function poll() {
    fetch(box.getAttribute("data-status-url"), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (run) {
        if (run.finished) { window.location.reload(); return; }
        label.textContent = run.status_label + ": cell " + run.cells_done + " of " + run.cell_count + " done";
        bar.max = run.cell_count; bar.value = run.cells_done;
        setTimeout(poll, 400);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 300);
})();
