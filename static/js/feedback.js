// "Was this helpful?" without leaving the page: a "Yes" is sent in the background and thanked in
// place; a "No" goes on to the page that asks why. Without JavaScript the form posts as usual.
(function () {
  "use strict";
  var form = document.querySelector("form[data-feedback]");
  if (!form || !window.fetch || !window.FormData) return;
  var status = form.parentNode.querySelector(".feedback__status");
  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button) return;
    event.preventDefault();
    var data = new FormData(form);
    data.append(button.name, button.value);
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (reply) {
        if (reply.next) { window.location.assign(reply.next); return; }
        status.textContent = reply.message;
        form.hidden = true;
      })
      .catch(function () {
        // Post it the plain way after all, with the chosen button's value.
        var choice = document.createElement("input");
        choice.type = "hidden"; choice.name = button.name; choice.value = button.value;
        form.appendChild(choice);
        form.submit();
      });
  });
})();
