// riskgrid console: live progress by polling. Elements with data-poll="URL" and
// data-active="1" are refreshed from URL every 2 s (server-rendered, escaped HTML) until the
// server answers X-Poll-Active: 0; with data-reload-when-done the page then reloads to show
// the results. No inline script anywhere: the page's CSP allows this file only.
"use strict";
(function () {
  var PERIOD_MS = 2000;
  function poll(el) {
    var url = el.getAttribute("data-poll");
    var timer = window.setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (resp) {
          if (!resp.ok) {
            window.clearInterval(timer); // signed out or expired: the next click says so
            return null;
          }
          var active = resp.headers.get("X-Poll-Active") === "1";
          return resp.text().then(function (html) {
            el.innerHTML = html;
            if (!active) {
              window.clearInterval(timer);
              el.setAttribute("data-active", "0");
              if (el.hasAttribute("data-reload-when-done")) { window.location.reload(); }
            }
          });
        })
        .catch(function () { /* network blip: try again next period */ });
    }, PERIOD_MS);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var els = document.querySelectorAll("[data-poll][data-active='1']");
    for (var i = 0; i < els.length; i++) { poll(els[i]); }
  });
})();
