// Console charts: a few generic functions over the vendored uPlot (static/vendor/uplot, ADR 0020).
//
// A page declares a chart as <div class="chart" data-chart="ID"></div> next to the JSON the
// server computed, embedded with Django's json_script as <script type="application/json" id="ID">
// (data, not code: the Content-Security-Policy allows no inline script). drawAll() draws every such
// chart on load and again after htmx swaps a fragment in. Spec shapes are documented in
// console/charts.py: {kind: "line", x: [unix seconds], series: [{label, values, style, axis}],
// y_label, ranges} and {kind: "bar", labels: [...], series: [{label, values}], y_label}.
// The legend under each chart follows the cursor: it is the tooltip (time and every value).
(function () {
  "use strict";
  var PALETTE = ["#1f5fbf", "#a15c00", "#12804a", "#b42318", "#6b21a8", "#0e7490"];
  var HEIGHT = 220;
  var RANGES = [["1D", 86400], ["1W", 7 * 86400], ["1M", 30 * 86400], ["3M", 91 * 86400], ["1Y", 365 * 86400]];

  function width(el) {
    return Math.max(240, Math.floor(el.clientWidth || el.parentNode.clientWidth || 600));
  }

  function number(v) {
    if (v === null || v === undefined) return "—";
    return Number(v).toLocaleString("en-US", {maximumFractionDigits: 2});
  }

  function axes(spec, hasRight) {
    var list = [{stroke: "#6b7280", grid: {stroke: "#eef0f3"}},
                {label: spec.y_label || "", stroke: "#6b7280", grid: {stroke: "#eef0f3"}, size: 70}];
    if (hasRight) list.push({scale: "r", side: 1, stroke: "#6b7280", grid: {show: false}, size: 60});
    return list;
  }

  function seriesOpts(s, i) {
    var color = PALETTE[i % PALETTE.length];
    var opts = {label: s.label, stroke: color, width: 2, value: function (u, v) { return number(v); }};
    if (s.axis === "right") opts.scale = "r";
    if (s.style === "area") opts.fill = color + "22";
    if (s.style === "points") {
      opts.paths = function () { return null; };
      opts.points = {show: true, size: 9, fill: color, stroke: color};
      opts.width = 0;
    } else {
      opts.spanGaps = true;
      opts.points = {show: false};
    }
    return opts;
  }

  function rangeButtons(el, u, xs) {
    var bar = document.createElement("div");
    bar.className = "chart-ranges";
    var last = xs[xs.length - 1], first = xs[0];
    RANGES.concat([["All", 0]]).forEach(function (r) {
      if (r[1] && r[1] >= last - first) return;  // a range no shorter than the data adds nothing
      var b = document.createElement("button");
      b.type = "button";
      b.className = "small-btn secondary";
      b.textContent = r[0];
      b.addEventListener("click", function () {
        u.setScale("x", {min: r[1] ? last - r[1] : first, max: last});
      });
      bar.appendChild(b);
    });
    el.parentNode.insertBefore(bar, el);
  }

  function lineChart(el, spec) {
    var hasRight = spec.series.some(function (s) { return s.axis === "right"; });
    var scales = {x: {time: true}};
    if (hasRight) scales.r = {auto: true};
    var opts = {
      width: width(el), height: HEIGHT, scales: scales, axes: axes(spec, hasRight),
      series: [{label: "Time"}].concat(spec.series.map(seriesOpts)),
      legend: {live: true}, cursor: {drag: {x: true, y: false}}
    };
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    var u = new uPlot(opts, data, el);
    if (spec.ranges) rangeButtons(el, u, spec.x);
    return u;
  }

  function barChart(el, spec) {
    var n = spec.series.length, labels = spec.labels;
    var xs = labels.map(function (_, i) { return i; });
    var series = spec.series.map(function (s, i) {
      var o = seriesOpts(s, i);
      o.fill = PALETTE[i % PALETTE.length] + "cc";
      o.width = 1;
      o.paths = uPlot.paths.bars({size: [0.8 / n, 80], align: n === 1 ? 0 : (i === 0 ? -1 : 1)});
      o.points = {show: false};
      return o;
    });
    var opts = {
      width: width(el), height: HEIGHT,
      scales: {x: {time: false, range: function () { return [-0.6, labels.length - 0.4]; }},
               y: {range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.1 : 1]; }}},
      axes: [{stroke: "#6b7280", grid: {show: false}, splits: function () { return xs; },
              values: function (u, splits) { return splits.map(function (i) { return labels[i] || ""; }); }},
             {label: spec.y_label || "", stroke: "#6b7280", grid: {stroke: "#eef0f3"}, size: 70}],
      series: [{label: "", value: function (u, i) { return i === null ? "—" : (labels[i] || ""); }}].concat(series),
      legend: {live: true}, cursor: {drag: {x: false, y: false}}
    };
    return new uPlot(opts, [xs].concat(spec.series.map(function (s) { return s.values; })), el);
  }

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source || el.getAttribute("data-drawn") === "1") return;
    var spec = JSON.parse(source.textContent);
    if (!spec) return;
    el.setAttribute("data-drawn", "1");
    var u = spec.kind === "bar" ? barChart(el, spec) : lineChart(el, spec);
    el.uplot = u;  // for the browser tests: the drawn series and axes
    charts.push({el: el, u: u});
  }

  var charts = [];

  function drawAll(root) {
    charts = charts.filter(function (c) { return document.body.contains(c.el); });
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (c) { c.u.setSize({width: width(c.el), height: HEIGHT}); });
    }, 150);
  });
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { drawAll(evt.target); });

  window.ConsoleCharts = {lineChart: lineChart, barChart: barChart, drawAll: drawAll};
})();
