// "Edit and run": runs a reader's version of a cell and shows the result in place, beside the
// verified output. Without JavaScript the form posts as usual and the result page refreshes
// itself until the run is done; this script only saves the page load. Every outcome ends in a
// sentence: the server's, or the script's own once DEADLINE_MS has passed without an answer.
(function () {
  "use strict";
  if (!window.fetch || !window.FormData) return;
  var DEADLINE_MS = 90000;
  // Dense at first (a warm run answers in ~100 ms: each gap is latency added to it), then
  // sparser for a slow cell; each poll is one Redis read on the server.
  var POLL_MS = [20, 20, 20, 25, 25, 30, 40, 50, 75, 100, 150, 250, 500];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function block(label, text, className) {
    var box = el("div", "output-block " + (className || ""));
    box.appendChild(el("span", "cell__label", label));
    var pre = el("pre"); pre.appendChild(el("code", "", text)); box.appendChild(pre);
    return box;
  }

  function showMessage(box, text, failed) {
    box.textContent = "";
    var outcome = el("div", "try-outcome" + (failed ? " try-outcome--failed" : ""));
    var status = el("p", "try-outcome__status", text);
    status.setAttribute("role", failed ? "alert" : "status");
    outcome.appendChild(status);
    box.appendChild(outcome);
    return outcome;
  }

  function showResult(box, run) {
    var outcome = showMessage(box, run.message + (run.prefix === "warm" ? " The cells before it were already run and kept warm." : ""), !run.ok);
    outcome.classList.add("try-outcome--" + run.state);
    if (run.detail && !run.ran) outcome.appendChild(block("Why", run.detail, "try-outcome__detail"));
    if (!run.ran) return;
    var columns = el("div", "try-outcome__columns");
    columns.appendChild(block("Your output", run.stdout, "try-outcome__stdout"));
    columns.appendChild(block("Verified output", run.verified_output, "try-outcome__verified"));
    outcome.appendChild(columns);
    if (run.same) {
      outcome.appendChild(el("p", "try-outcome__same", "Same output as the verified run."));
    } else {
      var diff = block("Difference (− verified, + yours)", "", "try-outcome__diff");
      var code = diff.querySelector("code");
      run.diff.forEach(function (line) {
        var mark = line.op === "added" ? "+ " : line.op === "removed" ? "− " : "  ";
        code.appendChild(el("span", "diff-line diff-line--" + line.op, mark + line.text));
        code.appendChild(document.createTextNode("\n"));
      });
      outcome.appendChild(diff);
    }
    if (run.stderr) outcome.appendChild(block("stderr", run.stderr, "cell__stderr"));
    if (run.error) outcome.appendChild(block(run.status === "error" ? "Exception" : "Stopped", run.error, "cell__error"));
    run.figures.forEach(function (figure, i) {
      var title = figure.title ? ": " + figure.title : "";
      var fig = el("figure", "cell__figure");
      var img = el("img");
      img.src = figure.src;  // a data: URL of a PNG the server checked
      img.alt = "Figure " + (i + 1) + " drawn by your version of cell " + run.cell_number + title;
      fig.appendChild(img);
      fig.appendChild(el("figcaption", "", "Figure " + (i + 1) + " of your run" + title));
      outcome.appendChild(fig);
    });
  }

  function poll(box, url, startedAt, attempt, button) {
    if (Date.now() - startedAt > DEADLINE_MS) {
      showMessage(box, "No result after " + DEADLINE_MS / 1000 + " s: the run was lost or the site cannot be reached. Please run it again.", true);
      button.disabled = false;
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.json().then(function (run) { return { ok: response.ok, run: run }; });
      })
      .then(function (reply) {
        var run = reply.run;
        if (!reply.ok) { showMessage(box, run.error || "This run is not there any more.", true); button.disabled = false; return; }
        if (!run.done) {
          var status = box.querySelector(".try-outcome__status");
          if (!status || status.textContent !== run.message) showMessage(box, run.message, false).classList.add("try-outcome--pending");
          setTimeout(function () { poll(box, url, startedAt, attempt + 1, button); }, POLL_MS[Math.min(attempt, POLL_MS.length - 1)]);
          return;
        }
        showResult(box, run);
        button.disabled = false;
      })
      .catch(function () {
        setTimeout(function () { poll(box, url, startedAt, attempt + 1, button); }, 1000);
      });
  }

  // The self-hosted code editor (static/vendor/kb_code_editor.js, about half a megabyte) is
  // fetched on the first "Edit and run" opened, not with the page: most readers never open one.
  // A script from the site's own origin is what the CSP's script-src 'self' allows, so it needs
  // no nonce. Every form waits on the same load; a failed load leaves the plain textarea.
  var editorBundle = null;

  function loadEditorBundle(src) {
    if (window.KBCodeEditor) return Promise.resolve(window.KBCodeEditor);
    if (!src) return Promise.resolve(null);
    if (!editorBundle) {
      editorBundle = new Promise(function (resolve) {
        var script = document.createElement("script");
        script.src = src;
        script.async = true;
        script.onload = function () { resolve(window.KBCodeEditor || null); };
        script.onerror = function () { editorBundle = null; script.remove(); resolve(null); };
        document.head.appendChild(script);
      });
    }
    return editorBundle;
  }

  function attachEditor(api, textarea) {
    // The editor writes every change back to the textarea, so the form posts what the reader
    // sees. Tab is not bound inside it (no indentWithTab), so Tab moves on to Run as before.
    if (!api || typeof api.attach !== "function") return null;
    var hadFocus = document.activeElement === textarea;
    try {
      var editor = api.attach(textarea, { language: "python" });
      if (hadFocus) editor.focus();
      return editor;
    } catch (e) {
      return null;
    }
  }

  document.querySelectorAll("form[data-try-form]").forEach(function (form) {
    var box = form.parentNode.querySelector("[data-try-result]");
    var textarea = form.querySelector("textarea");
    var button = form.querySelector(".try__run");
    var details = form.closest("details");
    var editor = null;
    var editorAsked = false;
    if (details) {
      details.addEventListener("toggle", function () {
        if (!details.open || editorAsked) return;
        editorAsked = true;
        loadEditorBundle(details.getAttribute("data-try-editor-src")).then(function (api) {
          editor = attachEditor(api, textarea);
          if (!editor) editorAsked = false;  // a later opening tries again
        });
      });
    }
    form.addEventListener("reset", function () {
      box.textContent = "";
      setTimeout(function () { if (editor && editor.setValue) editor.setValue(textarea.defaultValue); }, 0);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (editor) textarea.value = editor.getValue();
      button.disabled = true;
      showMessage(box, "Sending your code…", false).classList.add("try-outcome--pending");
      var startedAt = Date.now();
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (reply) { return { response: response, reply: reply }; });
        })
        .then(function (r) {
          if (r.response.status !== 202) {
            showMessage(box, r.reply.error || "Your code was not run.", true).classList.add("try-outcome--refused-" + r.response.status);
            button.disabled = false;
            return;
          }
          poll(box, r.reply.status_url, startedAt, 0, button);
        })
        .catch(function () {
          showMessage(box, "The site could not be reached, so your code was not run. Please try again.", true);
          button.disabled = false;
        });
    });
  });
})();
