// crowdflow web UI: the two live parts, in plain JavaScript. Everything
// else is server-rendered HTML that works without this file.
//  - countdowns: every .countdown[data-until] shows the time left to its
//    instant, once a second;
//  - the run page's #live[data-live-url] is fetched again every second and
//    swapped in, until the run has ended (data-final="true").
(function () {
  "use strict";

  function fmt(secs) {
    var h = Math.floor(secs / 3600), m = Math.floor(secs / 60) % 60, s = secs % 60;
    var pad = function (n) { return n < 10 ? "0" + n : "" + n; };
    if (h > 0) return h + " h " + pad(m) + " min " + pad(s) + " s";
    if (m > 0) return m + " min " + pad(s) + " s";
    return s + " s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      var until = Date.parse(el.getAttribute("data-until"));
      if (isNaN(until)) return;
      el.textContent = fmt(Math.max(0, Math.ceil((until - now) / 1000)));
    });
  }

  function ended(box) {
    var live = box.querySelector(".live");
    return live && live.getAttribute("data-final") === "true";
  }

  function poll(box) {
    var url = box.getAttribute("data-live-url");
    var failures = 0;
    function again(ms) { setTimeout(step, ms); }
    function step() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (res) {
          if (res.status === 401) { window.location.reload(); return null; }
          if (!res.ok) throw new Error("HTTP " + res.status);
          return res.text();
        })
        .then(function (html) {
          if (html === null) return;
          failures = 0;
          box.innerHTML = html;
          tick();
          if (!ended(box)) again(1000);
        })
        .catch(function () {
          // The server restarting or a network blip: back off, keep trying.
          failures++;
          again(Math.min(30000, 1000 * Math.pow(2, failures)));
        });
    }
    if (!ended(box)) again(1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    var box = document.getElementById("live");
    if (box && box.getAttribute("data-live-url")) poll(box);
  });
})();
