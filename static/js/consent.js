// Progressive enhancement only: without JavaScript the "Cookie settings" link opens the
// settings page, and the banner's buttons are plain form posts.
(function () {
  "use strict";
  var banner = document.querySelector("[data-consent-banner]");
  if (!banner) return;
  document.querySelectorAll("[data-consent-open]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      banner.hidden = false;
      var customise = banner.querySelector("details");
      if (customise) customise.open = true;
      var heading = banner.querySelector("#consent-banner-title");
      banner.scrollIntoView({ block: "start" });
      if (heading) heading.focus();
    });
  });
})();
