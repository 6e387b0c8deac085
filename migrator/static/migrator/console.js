/* Live progress of deployments on the console: every element with data-progress-url is
   polled once a second (one query per poll on the server) until its deployment ends.
   No framework, no full-page reload: the bar, the numbers and the event timeline are
   updated in place; when the deployment ends, the deployment page's body is fetched once
   to show the final runs, steps and report. */
(function () {
  "use strict";
  var INTERVAL = 1000;

  function text(el, selector, value) {
    var node = el.querySelector(selector);
    if (node) node.textContent = value;
  }

  function number(n) {
    return n === null || n === undefined ? "" : Number(n).toLocaleString();
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    seconds = Math.round(seconds);
    if (seconds < 60) return seconds + " s";
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m < 60) return m + " min " + s + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function eventKey(time, message) {
    return time + "|" + message;
  }

  function addEvents(events) {
    var list = document.getElementById("mg-events");
    if (!list || !events) return;
    var seen = {};
    list.querySelectorAll("[data-key]").forEach(function (row) {
      seen[row.getAttribute("data-key")] = true;
    });
    events.forEach(function (event) {
      var key = eventKey(event.time, event.message);
      if (seen[key]) return;
      seen[key] = true;
      var row = document.createElement("tr");
      row.setAttribute("data-key", key);
      row.className = "mg-level-" + event.level;
      var when = event.when || new Date(event.time).toLocaleString();
      [when, event.level, event.actor, event.message].forEach(function (value) {
        var cell = document.createElement("td");
        cell.textContent = value;
        row.appendChild(cell);
      });
      list.insertBefore(row, list.firstChild);
    });
  }

  function render(el, data) {
    var p = data.progress || {};
    var percent = data.percent;
    if (data.finished && data.status === "succeeded") percent = 100;
    var fill = el.querySelector(".mg-fill");
    if (fill && percent !== null && percent !== undefined) fill.style.width = percent + "%";
    el.setAttribute("data-status", data.status);
    el.setAttribute("data-percent", percent === null || percent === undefined ? "" : percent);
    text(el, ".mg-percent", percent === null || percent === undefined ? "" : percent + "%");
    text(el, ".mg-status", data.status_display);
    var runs = p.runs_total ? number(p.runs_done) + " of " + number(p.runs_total) + " migrations" : "";
    text(el, ".mg-runs", runs);
    var rows = "";
    if (p.done !== undefined && p.done !== null) {
      rows = number(p.done) + (p.total ? " of " + number(p.total) : "") + " rows";
    }
    text(el, ".mg-rows", rows);
    text(el, ".mg-rate", p.rate ? number(Math.round(p.rate)) + " rows/s" : "");
    text(el, ".mg-eta", p.eta_seconds ? "about " + duration(p.eta_seconds) + " remaining" : "");
    text(el, ".mg-current", data.finished ? "" : [p.migration, p.step].filter(Boolean).join(" · "));
    if (el.hasAttribute("data-timeline")) addEvents(p.events);
  }

  function refreshBody(el) {
    var url = el.getAttribute("data-fragment-url");
    var body = document.getElementById("mg-deployment");
    if (!url || !body) return;
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) body.innerHTML = html;
        body.setAttribute("data-final", "1");
        document.dispatchEvent(new CustomEvent("migrator:finished"));
      });
  }

  function poll(el) {
    var url = el.getAttribute("data-progress-url");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        render(el, data);
        if (data.finished) {
          el.classList.add("mg-finished");
          refreshBody(el);
        } else {
          setTimeout(function () { poll(el); }, INTERVAL);
        }
      })
      .catch(function () { setTimeout(function () { poll(el); }, INTERVAL * 3); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url]").forEach(function (el) {
      if (el.getAttribute("data-finished") === "1") return;
      poll(el);
    });
  });
})();
