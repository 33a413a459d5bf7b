// Progressive enhancement only: the site works without JavaScript.
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 64rem)");

  function toolButton(label, onClick) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", function () { onClick(button); });
    return button;
  }

  function copyButton(pre, what) {
    if (!navigator.clipboard) return null;
    var button = toolButton("Copy", function () {
      navigator.clipboard.writeText(pre.innerText).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
    button.className = "copy-button";
    button.setAttribute("aria-label", "Copy " + what + " to clipboard");
    return button;
  }

  // Code: a tool bar above the block (never over the code) with Wrap and Copy.
  function addCodeTools(block) {
    var pre = block.querySelector("pre");
    if (!pre) return;
    var tools = document.createElement("div");
    tools.className = "block-tools";
    var wrap = toolButton("Wrap", function (button) {
      var on = pre.classList.toggle("is-wrapped");
      button.setAttribute("aria-pressed", on ? "true" : "false");
      markScrollable([pre]);
    });
    wrap.className = "wrap-button";
    wrap.setAttribute("aria-pressed", "false");
    wrap.setAttribute("aria-label", "Wrap long lines");
    tools.appendChild(wrap);
    var copy = copyButton(pre, "code");
    if (copy) tools.appendChild(copy);
    block.insertBefore(tools, block.firstChild);
  }

  // Outputs: Copy, and a long output collapsed behind "Show all".
  var COLLAPSE_LINES = 25;
  function addOutputTools(block) {
    var pre = block.querySelector("pre");
    if (!pre) return;
    var copy = copyButton(pre, "output");
    if (copy) {
      var tools = document.createElement("div");
      tools.className = "block-tools";
      tools.appendChild(copy);
      block.appendChild(tools);
    }
    var lines = pre.textContent.replace(/\n+$/, "").split("\n").length;
    if (lines > COLLAPSE_LINES) {
      if (!pre.id) pre.id = "output-" + Math.random().toString(36).slice(2, 9);
      pre.classList.add("is-collapsed");
      var more = toolButton("Show all " + lines + " lines", function (button) {
        var collapsed = pre.classList.toggle("is-collapsed");
        button.setAttribute("aria-expanded", collapsed ? "false" : "true");
        button.textContent = collapsed ? "Show all " + lines + " lines" : "Show less";
      });
      more.className = "show-all";
      more.setAttribute("aria-expanded", "false");
      more.setAttribute("aria-controls", pre.id);
      block.appendChild(more);
    }
  }

  // Anything wider than its box scrolls sideways: show a cue and let the keyboard scroll it.
  // All boxes are measured first, then marked, so the page is laid out once, not once per box.
  function markScrollable(boxes) {
    var scrolls = boxes.map(function (box) { return box.scrollWidth > box.clientWidth + 1; });
    boxes.forEach(function (box, i) {
      box.classList.toggle("is-scrollable", scrolls[i]);
      if (scrolls[i]) {
        box.setAttribute("tabindex", "0");
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
      }
    });
  }
  function wrapTables() {
    document.querySelectorAll(".prose table").forEach(function (table) {
      if (table.parentElement.classList.contains("table-scroll")) return;
      var box = document.createElement("div");
      box.className = "table-scroll";
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "Table (scrolls sideways)");
      table.parentElement.insertBefore(box, table);
      box.appendChild(table);
    });
  }
  function markAllScrollable() {
    markScrollable(Array.prototype.slice.call(document.querySelectorAll(".prose pre, .table-scroll")));
  }

  // Table of contents: open beside the article on a wide screen, a closed panel at the top
  // of the article on a phone (closed again after following a link); the section being read
  // is marked.
  function setUpToc() {
    var toc = document.querySelector("details.toc-panel");
    if (!toc) return;
    toc.open = wide.matches;
    wide.addEventListener("change", function () { toc.open = wide.matches; });
    toc.addEventListener("click", function (event) {
      if (event.target.closest("a") && !wide.matches) toc.open = false;
    });
    var links = {};
    toc.querySelectorAll("a[href^='#']").forEach(function (link) {
      links[decodeURIComponent(link.getAttribute("href").slice(1))] = link;
    });
    var headings = Array.prototype.filter.call(
      document.querySelectorAll(".prose h2[id], .prose h3[id]"),
      function (heading) { return links[heading.id]; }
    );
    if (!headings.length) return;
    function update() {
      var current = headings[0];
      headings.forEach(function (heading) {
        if (heading.getBoundingClientRect().top < window.innerHeight * 0.25) current = heading;
      });
      Object.keys(links).forEach(function (id) {
        if (id === current.id) links[id].setAttribute("aria-current", "true");
        else links[id].removeAttribute("aria-current");
      });
    }
    var pending = false;
    window.addEventListener("scroll", function () {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(function () { pending = false; update(); });
    }, { passive: true });
    update();
  }

  // Light/dark: the choice is kept in localStorage (see theme.js).
  function setUpThemeToggle() {
    var button = document.querySelector("[data-theme-toggle]");
    if (!button) return;
    var dark = window.matchMedia("(prefers-color-scheme: dark)");
    function current() {
      return document.documentElement.getAttribute("data-theme") || (dark.matches ? "dark" : "light");
    }
    function label() {
      var isDark = current() === "dark";
      button.setAttribute("aria-pressed", isDark ? "true" : "false");
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      try { localStorage.setItem("theme", next); } catch (e) { /* not remembered */ }
      label();
    });
    dark.addEventListener("change", label);
    label();
  }

  document.querySelectorAll(".prose .highlight").forEach(addCodeTools);
  document.querySelectorAll(".prose .output-block").forEach(addOutputTools);
  wrapTables();
  markAllScrollable();
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(markAllScrollable, 150);
  });
  setUpToc();
  setUpThemeToggle();
})();
