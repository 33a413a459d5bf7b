// Admin: live progress of the answer's run (cell i of n) and each cell's result as it arrives.
// Everything from the server is inserted with textContent, never as HTML.
(function () {
  "use strict";
  function start(box) {
    var label = box.querySelector(".kb-run-progress__label");
    var bar = box.querySelector("progress");
    var list = box.querySelector(".kb-run-progress__cells");
    function render(run) {
      label.textContent = run.status === null ? run.label
        : run.label + " — cell " + run.cells_done + " of " + run.cell_count;
      bar.max = Math.max(run.cell_count || 1, 1);
      bar.value = run.cells_done || 0;
      var first = box.querySelector(".kb-run-progress__first");
      if (first) {
        var failed = run.first_failure;
        var why = failed ? (failed.error || "").trim().split("\n").pop().slice(0, 200) : "";
        first.textContent = failed ? "First failure: cell " + (failed.index + 1) + " (line " + failed.line +
          "), " + failed.status_label + (why ? ": " + why : "") : "";
      }
      list.replaceChildren();
      (run.cells || []).forEach(function (cell) {
        var item = document.createElement("li");
        item.className = "kb-cell--" + (cell.status || "waiting");
        var number = cell.index + 1;
        var link = document.createElement("a");
        link.href = box.getAttribute("data-cell-url") + "#cell-" + number;
        link.textContent = "Cell " + number;
        item.append(link, " (line " + cell.line + "): " + cell.status_label);
        if (cell.after_failure !== null && cell.after_failure !== undefined) {
          item.append(" — after cell " + (cell.after_failure + 1) + " failed: fix that one first");
        }
        var text = cell.error || cell.output;
        if (text) {
          var pre = document.createElement("pre");
          pre.textContent = text;
          item.appendChild(pre);
        }
        list.appendChild(item);
      });
    }
    function poll() {
      fetch(box.getAttribute("data-status-url"), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (run) {
          render(run);
          if (run.status !== null && !run.finished) setTimeout(poll, 400);
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    poll();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".kb-run-progress[data-status-url]").forEach(start);
  });
})();
