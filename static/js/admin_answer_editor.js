// Admin: the answer body as a code editor (static/vendor/kb_code_editor.js) with the server's
// own problems marked on their lines and a live preview rendered by the server's renderer.
// Each cell of the preview can be run on the pool (static/js/admin_draft_runs.js) while
// writing. The textarea stays the form's field: without JavaScript the page is the plain textarea.
(function () {
  "use strict";
  var PREVIEW_DELAY_MS = 400;

  function post(url, body, csrf) {
    var data = new FormData();
    data.append("body", body);
    return postForm(url, data, csrf);
  }

  function postForm(url, data, csrf) {
    return fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) throw new Error(json.error || "The server refused the request (" + response.status + ").");
        return json;
      });
    });
  }

  function start() {
    var configNode = document.getElementById("kb-answer-editor-config");
    var textarea = document.querySelector('textarea[name="answer-0-body"]');
    if (!configNode || !textarea || !window.KBCodeEditor) return;
    var config = JSON.parse(configNode.textContent);
    var csrfInput = textarea.form && textarea.form.querySelector('input[name="csrfmiddlewaretoken"]');
    var csrf = csrfInput ? csrfInput.value : "";

    var layout = document.createElement("div");
    layout.className = "kb-answer-editor";
    textarea.parentNode.insertBefore(layout, textarea);
    var pane = document.createElement("div");
    pane.className = "kb-answer-editor__source";
    layout.appendChild(pane);
    pane.appendChild(textarea);

    var preview = document.createElement("section");
    preview.className = "kb-answer-editor__preview";
    preview.setAttribute("aria-labelledby", "kb-live-preview-title");
    var heading = document.createElement("h3");
    heading.id = "kb-live-preview-title";
    heading.textContent = "Live preview";
    var state = document.createElement("p");
    state.className = "kb-answer-editor__preview-state";
    state.setAttribute("role", "status");
    var rendered = document.createElement("div");
    rendered.className = "kb-answer-editor__rendered article-body";
    preview.append(heading, state, rendered);
    layout.appendChild(preview);

    var runs = window.KBDraftRuns ? window.KBDraftRuns.create({
      config: config, container: rendered, getBody: function () { return editor.getValue(); },
      setBody: function (text) { editor.setValue(text); },
      postForm: function (url, data) { return postForm(url, data, csrf); },
    }) : null;
    var drafts = window.KBAnswerDrafts && config.draftUrl ? window.KBAnswerDrafts.create({
      config: config, mount: pane, form: textarea.form, getBody: function () { return textarea.value; },
      setBody: function (text) { editor.setValue(text); },
      postForm: function (url, data) { return postForm(url, data, csrf); },
    }) : null;
    var sequence = 0;
    var timer = null;
    function refreshPreview(text) {
      var mine = ++sequence;
      post(config.previewUrl, text, csrf).then(function (json) {
        if (mine !== sequence) return;
        // The published page's HTML from the server's renderer (prose sanitised, cells from an
        // autoescaped template): parsed inert, then moved in, as the page would show it.
        var parsed = new DOMParser().parseFromString(json.html, "text/html");
        rendered.replaceChildren.apply(rendered, Array.prototype.slice.call(parsed.body.childNodes));
        if (runs) runs.decorate();
        state.textContent = "";
      }).catch(function (error) {
        if (mine === sequence) state.textContent = "Preview not updated: " + error.message;
      });
    }

    var editor = window.KBCodeEditor.attach(textarea, {
      language: "answer-markdown",
      cellOptions: config.cellOptions,
      check: function (text) {
        return post(config.checkUrl, text, csrf).then(function (json) { return json.problems; });
      },
      onChange: function (text) {
        clearTimeout(timer);
        timer = setTimeout(function () { refreshPreview(text); }, PREVIEW_DELAY_MS);
        if (drafts) drafts.changed();
      },
    });
    refreshPreview(textarea.value);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
