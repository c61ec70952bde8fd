// Replay report charts (uPlot) and the progress bar of a running replay. Data comes from
// json_script blocks rendered by console/replay_views.py; no inline script (CSP-friendly).
(function () {
  "use strict";

  function seconds(date) { return Date.parse(date + "T00:00:00Z") / 1000; }

  function width(el) { return Math.max(320, el.clientWidth || 900); }

  function aligned(series, key) {
    // one x axis (dates of the first series), the others looked up by date
    var xs = series[0].map(function (p) { return p.date; });
    return [xs.map(seconds)].concat(series.map(function (s) {
      var byDate = {};
      s.forEach(function (p) { byDate[p.date] = p[key]; });
      return xs.map(function (d) { return d in byDate ? byDate[d] : null; });
    }));
  }

  function plot(el, title, labels, colors, data) {
    if (!el || !window.uPlot || !data[0].length) { return; }
    var series = [{}].concat(labels.map(function (label, i) { return {label: label, stroke: colors[i], width: 1.5}; }));
    // a y axis wide enough for 100,000-dollar labels; the box grows to the plot, its title and legend
    var axes = [{}, {size: 70}];
    el.style.height = "auto";
    el.uplot = new window.uPlot({title: title, width: width(el), height: 260, series: series, axes: axes}, data, el);  // for the browser tests
  }

  function charts() {
    var node = document.getElementById("replay-charts");
    if (node) {
      var c = JSON.parse(node.textContent);
      if (c.equity.length) {
        plot(document.getElementById("chart-equity"), "Equity vs benchmark", ["equity", "benchmark"],
             ["#1f6feb", "#8c959f"], aligned([c.equity, c.benchmark], "equity"));
        plot(document.getElementById("chart-drawdown"), "Drawdown", ["drawdown"], ["#cf222e"],
             aligned([c.drawdown], "drawdown"));
      }
    }
    var cmp = document.getElementById("replay-compare");
    if (cmp) {
      var k = JSON.parse(cmp.textContent);
      plot(document.getElementById("chart-compare"), "Equity", [k.a_label, k.b_label], ["#1f6feb", "#bf8700"],
           aligned([k.a, k.b], "equity"));
    }
  }

  function progress() {
    var box = document.getElementById("replay-progress");
    if (!box) { return; }
    var status = box.getAttribute("data-status");
    if (status !== "queued" && status !== "running") { return; }
    var bar = box.querySelector("progress");
    var text = box.querySelector(".progress-text");
    function poll() {
      fetch(box.getAttribute("data-url"), {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (p) {
          bar.value = p.percent;
          text.textContent = p.text;
          box.setAttribute("data-status", p.status);
          if (p.status === "completed") { window.location.reload(); return; }
          if (p.status === "failed") { text.textContent = "failed: " + p.error; return; }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () { charts(); progress(); });
}());
