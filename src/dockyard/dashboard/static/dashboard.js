// dockyard dashboard: live deployment figures (polling), confirmed actions, log filter.
// The project's own script: no library, no build step.
"use strict";

(function () {
  function text(el, value) { if (el) el.textContent = value; }
  function fmt(v, suffix) {
    if (v === null || v === undefined) return "-";
    if (typeof v === "number" && !Number.isInteger(v)) v = Number(v.toPrecision(4));
    return String(v) + (suffix || "");
  }
  function cell(row, value) { var td = document.createElement("td"); td.textContent = value; row.appendChild(td); }

  function liveDeployment(root) {
    var url = root.getAttribute("data-live-url");
    var last = 0;
    function apply(d) {
      last = Date.now();
      text(document.querySelector('[data-live="phase"]'), d.phase);
      var phase = document.querySelector('[data-live="phase"]');
      if (phase) phase.className = "status " + d.phase;
      text(root.querySelector('[data-live="next_decision"]'), d.next_decision);
      var body = root.querySelector('[data-live="versions"]');
      if (body) {
        body.textContent = "";
        d.versions.forEach(function (v) {
          var tr = document.createElement("tr");
          cell(tr, v.role);
          var td = document.createElement("td"), a = document.createElement("a");
          a.href = "/models/" + encodeURIComponent(d.model) + "#v" + v.version;
          a.textContent = v.ref; td.appendChild(a); tr.appendChild(td);
          cell(tr, v.weight !== null ? fmt(v.weight, "%") : (v.mirror !== null ? "mirror " + fmt(v.mirror, "%") : ""));
          cell(tr, fmt(v.requests)); cell(tr, fmt(v.error_rate));
          cell(tr, v.p99_ms === null ? "-" : fmt(v.p99_ms, " ms")); cell(tr, fmt(v.divergence));
          tr.setAttribute("data-role", v.role);
          tr.setAttribute("data-weight", v.weight === null ? "" : String(v.weight));
          body.appendChild(tr);
        });
      }
      var events = root.querySelector('[data-live="events"]');
      if (events && d.events.length) {
        events.textContent = "";
        d.events.forEach(function (e) {
          var tr = document.createElement("tr");
          cell(tr, e.id); cell(tr, e.at); cell(tr, e.kind); cell(tr, e.reason);
          events.appendChild(tr);
        });
      }
      Object.keys(d.charts).forEach(function (key) {
        var box = root.querySelector('[data-chart="' + key + '"]');
        if (box) box.innerHTML = d.charts[key];  // SVG drawn and escaped by the server
      });
      root.setAttribute("data-updated", String(d.at));
    }
    function poll() {
      fetch(url, { cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) { if (d) apply(d); })
        .catch(function () {})
        .then(function () { setTimeout(poll, 1000); });
    }
    setInterval(function () {
      var age = last ? ((Date.now() - last) / 1000).toFixed(1) + " s ago" : "-";
      text(document.getElementById("live-age"), age);
    }, 250);
    poll();
  }

  function actions(root) {
    var name = root.getAttribute("data-live-url").split("/")[2];
    var box = document.getElementById("confirm");
    var chosen = null;
    var words = {
      promote: "Promote: send all traffic to the candidate now and make it stable?",
      abort: "Abort: send all traffic back to the stable version now?"
    };
    root.querySelectorAll("button[data-action]").forEach(function (b) {
      b.addEventListener("click", function () {
        chosen = b.getAttribute("data-action");
        text(document.getElementById("confirm-text"), words[chosen] + " (" + decodeURIComponent(name) + ")");
        box.hidden = false;
      });
    });
    document.getElementById("confirm-no").addEventListener("click", function () { box.hidden = true; chosen = null; });
    document.getElementById("confirm-yes").addEventListener("click", function () {
      if (!chosen) return;
      var headers = { "content-type": "application/json" };
      var token = document.getElementById("token");
      if (token && token.value) headers.authorization = "Bearer " + token.value;
      var result = document.getElementById("action-result");
      fetch("/deployments/" + name + "/" + chosen, { method: "POST", headers: headers, body: JSON.stringify({ confirm: true }) })
        .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
        .then(function (pair) {
          text(result, pair[0] === 200 ? chosen + " sent to the rollout controller" : "refused (" + pair[0] + "): " + pair[1].error);
          if (pair[0] === 200) box.hidden = true;
        })
        .catch(function (e) { text(result, "failed: " + e); });
    });
  }

  function logFilter(input) {
    var target = document.querySelector(input.getAttribute("data-filter"));
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      target.querySelectorAll("span").forEach(function (line) {
        line.hidden = q !== "" && line.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var dep = document.getElementById("deployment");
    if (dep) { liveDeployment(dep); actions(dep); }
    document.querySelectorAll("input[data-filter]").forEach(logFilter);
  });
})();
