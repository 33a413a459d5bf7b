// Suggestions under the search box (the ARIA 1.2 combobox pattern with a listbox popup).
// Progressive enhancement: without JavaScript the box is an ordinary search form.
(function () {
  "use strict";
  var form = document.querySelector("form[data-suggest-url]");
  var input = form && form.querySelector('input[name="q"]');
  if (!input || !window.fetch) return;
  // Set up on the first focus, not at load: the page's first paint and its main thread owe
  // nothing to a box the reader may never use.
  if (document.activeElement === input) setUp();
  else input.addEventListener("focus", setUp, { once: true });

  function setUp() {
  var url = form.getAttribute("data-suggest-url");
  var listbox = document.createElement("ul");
  var status = document.createElement("p");
  var options = [];
  var active = -1;
  var timer = null;
  var asked = 0;

  listbox.id = input.id + "-suggestions";
  listbox.className = "search-suggestions";
  listbox.setAttribute("role", "listbox");
  listbox.setAttribute("aria-label", "Suggested questions");
  listbox.hidden = true;
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  input.parentNode.appendChild(listbox);
  input.parentNode.appendChild(status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("autocomplete", "off");

  function close() {
    shown = "";
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    options.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  var shown = "";

  function show(suggestions) {
    var key = suggestions.map(function (s) { return s.url; }).join(" ");
    if (key && key === shown && !listbox.hidden) return;  // the same list: keep the reader's place
    shown = key;
    listbox.textContent = "";
    options = suggestions.map(function (suggestion, i) {
      var option = document.createElement("li");
      option.id = listbox.id + "-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.textContent = suggestion.title;  // text, never HTML
      option.setAttribute("data-url", suggestion.url);
      option.addEventListener("mousedown", function (event) { event.preventDefault(); });
      option.addEventListener("click", function () { window.location.assign(suggestion.url); });
      listbox.appendChild(option);
      return option;
    });
    active = -1;
    input.removeAttribute("aria-activedescendant");
    if (options.length) {
      listbox.hidden = false;
      input.setAttribute("aria-expanded", "true");
      status.textContent = options.length + (options.length === 1 ? " suggestion" : " suggestions") + ", use the arrow keys to choose";
    } else {
      close();
      status.textContent = "";
    }
  }

  function ask() {
    var query = input.value.trim();
    var mine = ++asked;
    if (query.length < 2) { show([]); return; }
    fetch(url + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
      .then(function (data) { if (mine === asked) show(data.suggestions || []); })
      .catch(function () { if (mine === asked) show([]); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 120);
  });

  input.addEventListener("keydown", function (event) {
    var open = !listbox.hidden && options.length > 0;
    if (event.key === "ArrowDown") {
      if (!open) { ask(); return; }
      event.preventDefault();
      highlight(active + 1 >= options.length ? 0 : active + 1);
    } else if (event.key === "ArrowUp") {
      if (!open) return;
      event.preventDefault();
      highlight(active <= 0 ? options.length - 1 : active - 1);
    } else if (event.key === "Enter") {
      if (open && active >= 0) {
        event.preventDefault();
        window.location.assign(options[active].getAttribute("data-url"));
      }
    } else if (event.key === "Escape") {
      if (open) { event.preventDefault(); close(); }
      else if (input.value) { event.preventDefault(); input.value = ""; }
    }
  });

  input.addEventListener("blur", function () { setTimeout(close, 100); });
  }
})();
