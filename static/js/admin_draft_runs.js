// Admin answer editor: "Run cell N" and "Run cells 1–N" under each cell of the live preview.
// A run goes to the server (answers/admin_editor.py, the `try` queue with staff limits); its
// output, stderr, error, figures and timing are shown under the cell, compared with the cell's
// expected output, with "Use as expected output" and the option that would absorb a difference.
// Every piece of text from the run is set with textContent; figures are PNG data URIs the
// server checked. A panel outlives the preview's re-render: it moves to the re-rendered cell.
(function () {
  "use strict";
  var FIRST_POLL_MS = 20;
  var LONGEST_POLL_MS = 500;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(text, onClick) {
    var node = el("button", "button kb-draft-run__button", text);
    node.type = "button"; // never submits the admin form
    node.addEventListener("click", onClick);
    return node;
  }

  function block(label, text, className) {
    var wrap = el("div", "kb-draft-run__block " + (className || ""));
    wrap.appendChild(el("span", "kb-draft-run__label", label));
    var pre = el("pre");
    pre.appendChild(el("code", "", text));
    wrap.appendChild(pre);
    return wrap;
  }

  function readJson(response) {
    return response.json().then(function (json) {
      if (!response.ok) throw new Error(json.error || "The server refused the request (" + response.status + ").");
      return json;
    });
  }

  function create(options) {
    var config = options.config;
    var panels = {}; // cell number -> panel element, kept across re-renders of the preview

    function panelFor(number) {
      if (!panels[number]) {
        var panel = el("div", "kb-draft-run");
        panel.setAttribute("data-draft-run-cell", String(number));
        var status = el("p", "kb-draft-run__status");
        status.setAttribute("role", "status");
        panel.appendChild(status);
        panel.appendChild(el("div", "kb-draft-run__result"));
        panels[number] = panel;
      }
      return panels[number];
    }

    function say(number, text) {
      panelFor(number).querySelector(".kb-draft-run__status").textContent = text;
    }

    function decorate() {
      var cells = options.container.querySelectorAll(".cell[data-cell-index]");
      Array.prototype.forEach.call(cells, function (cellNode) {
        var number = Number(cellNode.getAttribute("data-cell-index")) + 1;
        var bar = el("div", "kb-draft-run__bar");
        bar.appendChild(button("Run cell " + number, function () { run(number, "cell"); }));
        if (number > 1) {
          bar.appendChild(button("Run cells 1–" + number, function () { run(number, "above"); }));
        }
        cellNode.appendChild(bar);
        cellNode.appendChild(panelFor(number));
      });
    }

    function run(number, scope) {
      var started = performance.now();
      var panel = panelFor(number);
      panel.removeAttribute("data-draft-run-ms");
      panel.setAttribute("data-draft-run-state", "starting");
      say(number, "Starting the run…");
      var data = new FormData();
      data.append("body", options.getBody());
      data.append("cell", String(number));
      data.append("scope", scope);
      data.append("question", config.question || "");
      options.postForm(config.runUrl, data).then(function (json) {
        poll(json.resultUrl, number, started, FIRST_POLL_MS);
      }).catch(function (error) {
        panel.setAttribute("data-draft-run-state", "refused");
        say(number, "Not run: " + error.message);
      });
    }

    function poll(url, number, started, delay) {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(readJson)
        .then(function (json) {
          if (!json.done) {
            say(number, json.message);
            setTimeout(function () { poll(url, number, started, Math.min(delay * 2, LONGEST_POLL_MS)); }, delay);
            return;
          }
          var ms = Math.round(performance.now() - started);
          var panel = panelFor(number);
          panel.setAttribute("data-draft-run-state", json.state);
          panel.setAttribute("data-draft-run-ms", String(ms));
          if (!json.cells.length) {
            say(number, json.message);
            panel.querySelector(".kb-draft-run__result").replaceChildren();
            return;
          }
          json.cells.forEach(function (view) { show(view, url, view.number === number ? ms : null); });
        })
        .catch(function (error) { say(number, "The run's result could not be read: " + error.message); });
    }

    function show(view, resultUrl, roundTripMs) {
      var panel = panelFor(view.number);
      panel.setAttribute("data-draft-run-state", "done");
      panel.setAttribute("data-draft-run-status", view.status);
      var line = "Cell " + view.number + ": " + view.label;
      if (typeof view.elapsed_ms === "number") line += " in " + view.elapsed_ms + " ms";
      if (roundTripMs !== null) line += " (" + roundTripMs + " ms from Run to here)";
      if (view.detail) line += ". " + view.detail;
      say(view.number, line);
      var result = panel.querySelector(".kb-draft-run__result");
      var parts = [];
      if (view.stdout) parts.push(block("Output", view.stdout, "kb-draft-run__output"));
      if (view.stderr) parts.push(block("stderr", view.stderr, "kb-draft-run__stderr"));
      if (view.error) parts.push(block(view.status === "error" ? "Exception" : "Stopped", view.error, "kb-draft-run__error"));
      view.figures.forEach(function (figure, i) {
        var fig = el("figure", "kb-draft-run__figure");
        var img = el("img");
        img.src = figure.src;
        img.alt = figure.title || "Figure " + (i + 1) + " drawn by cell " + view.number;
        fig.appendChild(img);
        if (figure.title) fig.appendChild(el("figcaption", "", figure.title));
        parts.push(fig);
      });
      if (view.compared === "matches") {
        parts.push(el("p", "kb-draft-run__compared kb-draft-run__compared--same", "Matches the expected output."));
      } else if (view.compared === "differs") {
        parts.push(el("p", "kb-draft-run__compared kb-draft-run__compared--differs", "Differs from the expected output (− expected, + this run):"));
        var diff = el("pre", "kb-draft-run__diff");
        view.diff.forEach(function (d) {
          var mark = d.op === "added" ? "+ " : d.op === "removed" ? "− " : "  ";
          diff.appendChild(el("span", "kb-draft-run__diff-" + d.op, mark + d.text + "\n"));
        });
        parts.push(diff);
      }
      var actions = el("div", "kb-draft-run__actions");
      if (view.suggestion) {
        actions.appendChild(el("p", "kb-draft-run__reason", view.suggestion.reason));
        actions.appendChild(button(view.suggestion.label, function () { apply(view.number, resultUrl, "suggestion"); }));
      }
      if (view.can_use_output) {
        actions.appendChild(button("Use as expected output", function () { apply(view.number, resultUrl, "use_output"); }));
      }
      if (actions.childNodes.length) parts.push(actions);
      result.replaceChildren.apply(result, parts);
    }

    function apply(number, resultUrl, action) {
      var data = new FormData();
      data.append("body", options.getBody());
      data.append("cell", String(number));
      data.append("action", action);
      options.postForm(resultUrl + "apply/", data).then(function (json) {
        options.setBody(json.body);
        var actions = panelFor(number).querySelector(".kb-draft-run__actions");
        if (actions) actions.remove();
        say(number, action === "use_output"
          ? "Cell " + number + "'s expected output is now this run's output. Save to keep it."
          : "Cell " + number + " now has the option. Save to keep it.");
      }).catch(function (error) { say(number, "Not changed: " + error.message); });
    }

    return { decorate: decorate, run: run };
  }

  window.KBDraftRuns = { create: create };
})();
