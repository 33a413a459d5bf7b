// Admin answer editor: the draft is saved on the server as the author types (a closed tab loses
// nothing), offered back on the next visit ("Restore draft" / "Discard draft"), and leaving the
// page with changes the question has not saved asks first. Text is set with textContent only.
(function () {
  "use strict";
  var SAVE_DELAY_MS = 1000;

  function create(options) {
    var config = options.config;
    var savedBody = options.getBody(); // what the question holds: the form's initial value
    var submitting = false;
    var timer = null;
    var pending = null;

    var status = document.createElement("p");
    status.className = "kb-answer-drafts__status";
    status.setAttribute("role", "status");
    options.mount.appendChild(status);

    function formData(fields) {
      var data = new FormData();
      Object.keys(fields).forEach(function (key) { data.append(key, fields[key]); });
      data.append("question", config.question || "");
      return data;
    }

    function save() {
      var body = options.getBody();
      pending = options.postForm(config.draftUrl, formData({ body: body })).then(function (json) {
        var at = new Date(json.savedAt);
        status.textContent = "Draft saved at " + at.toLocaleTimeString() + " (not yet saved to the question).";
      }).catch(function (error) {
        status.textContent = "Draft not saved: " + error.message;
      });
      return pending;
    }

    function changed() {
      clearTimeout(timer);
      timer = setTimeout(save, SAVE_DELAY_MS);
    }

    function offer(draft) {
      var box = document.createElement("div");
      box.className = "kb-answer-drafts__offer";
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "Unsaved draft");
      var text = document.createElement("p");
      text.textContent = "You have an unsaved draft of this answer from " +
        new Date(draft.savedAt).toLocaleString() + ".";
      var restore = document.createElement("button");
      restore.type = "button";
      restore.className = "button";
      restore.textContent = "Restore draft";
      restore.addEventListener("click", function () {
        options.setBody(draft.body);
        box.remove();
        status.textContent = "Draft restored. Save the question to keep it.";
      });
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "button";
      discard.textContent = "Discard draft";
      discard.addEventListener("click", function () {
        options.postForm(config.draftUrl, formData({ body: "", action: "discard" })).then(function () {
          box.remove();
          status.textContent = "Draft discarded.";
        }).catch(function (error) { status.textContent = "Draft not discarded: " + error.message; });
      });
      box.append(text, restore, discard);
      options.mount.insertBefore(box, options.mount.firstChild);
    }

    if (options.form) options.form.addEventListener("submit", function () {
      submitting = true;
      clearTimeout(timer); // the save of the question drops the draft: do not write it back
    });
    window.addEventListener("beforeunload", function (event) {
      if (submitting || options.getBody() === savedBody) return;
      event.preventDefault();
      event.returnValue = ""; // the browser shows its own "Leave site?" question
    });
    if (config.draft) offer(config.draft);
    return { changed: changed, save: save };
  }

  window.KBAnswerDrafts = { create: create };
})();
