// Draws the report's charts from the JSON block #chart-data with uPlot. Every string shown
// comes from that block and reaches the page through textContent (uPlot's legend does the
// same): nothing here builds HTML from data.
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("chart-data").textContent);
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
  var STYLES = {
    main: { stroke: "#1565c0", width: 2 },
    member: { stroke: "#7e57c2", width: 1 },
    uss: { stroke: "#00897b", width: 1 },
    heap: { stroke: "#ef6c00", width: 1.5 },
    floor: { stroke: "#2e7d32", width: 2, dash: [6, 3] },
    trend: { stroke: "#c62828", width: 2 },
    forecast: { stroke: "#c62828", width: 2, dash: [3, 4] },
    limit: { stroke: "#000000", width: 1.5, dash: [10, 5] },
    count: { stroke: "#8d6e63", width: 1 },
    bars: { stroke: "#5c6bc0", fill: "rgba(92,107,192,0.45)", width: 1 },
    series: { stroke: "#1565c0", width: 2 },
    other: { stroke: "#c62828", width: 2 }
  };
  var MEMBER_COLORS = ["#7e57c2", "#26a69a", "#d81b60", "#6d4c41", "#546e7a", "#9e9d24"];

  function bytes(v) {
    if (v == null) return "—";
    var sign = v < 0 ? "-" : "", x = Math.abs(v), i = 0;
    while (x >= 1024 && i < UNITS.length - 1) { x /= 1024; i++; }
    return sign + (i === 0 ? x.toFixed(0) : x.toPrecision(3)) + " " + UNITS[i];
  }
  function count(v) {
    if (v == null) return "—";
    var a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toPrecision(3) + " G";
    if (a >= 1e6) return +(v / 1e6).toPrecision(3) + " M";
    if (a >= 1e4) return +(v / 1e3).toPrecision(3) + " k";
    return a >= 100 ? Math.round(v).toLocaleString("en") : +v.toPrecision(3) + "";
  }
  function seconds(v) {
    if (v == null) return "—";
    var a = Math.abs(v);
    if (a >= 86400) return (v / 86400).toFixed(1) + " d";
    if (a >= 3600) return (v / 3600).toFixed(1) + " h";
    if (a >= 120) return (v / 60).toFixed(1) + " min";
    return (+v.toPrecision(3)) + " s";
  }
  function millis(v) { return v == null ? "" : (+v.toPrecision(3)) + " ms"; }
  function formatter(axis) {
    return axis === "bytes" ? bytes : count;
  }

  // Collections as ticks under the plot: taller for older generations / Go cycles.
  function marksPlugin(marks) {
    return {
      hooks: {
        draw: function (u) {
          if (!marks.length) return;
          var ctx = u.ctx, top = u.bbox.top + u.bbox.height, lo = u.scales.x.min,
              hi = u.scales.x.max;
          ctx.save();
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          for (var i = 0; i < marks.length; i++) {
            var m = marks[i];
            if (m.t < lo || m.t > hi) continue;
            var x = Math.round(u.valToPos(m.t, "x", true));
            var h = (m.level >= 2 ? 10 : 5) * devicePixelRatio;
            ctx.strokeStyle = m.level >= 2 ? "rgba(198,40,40,0.8)" : "rgba(120,120,120,0.6)";
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top - h); ctx.stroke();
          }
          ctx.restore();
        }
      }
    };
  }

  var sync = uPlot.sync("memgrowth-time");
  var drawn = [];
  window.memgrowthCharts = drawn;

  specs.forEach(function (spec) {
    var host = document.getElementById("chart-" + spec.id);
    if (!host) return;
    var title = document.createElement("div");
    title.className = "chart-title";
    title.textContent = spec.title;
    host.appendChild(title);
    var axesUsed = {};
    var member = 0;
    var series = [{
      label: spec.kind === "ms-log" ? "duration" : "time",
      value: function (u, v) { return spec.kind === "ms-log" ? millis(v) : seconds(v); }
    }];
    spec.series.forEach(function (s) {
      axesUsed[s.axis] = true;
      var style = STYLES[s.style] || STYLES.series;
      var entry = {
        label: s.label, scale: s.axis, show: s.show !== false, spanGaps: true,
        stroke: s.style === "member" ? MEMBER_COLORS[member++ % MEMBER_COLORS.length]
                                     : style.stroke,
        width: style.width, dash: style.dash, fill: style.fill,
        points: { show: false },
        value: (function (f) { return function (u, v) { return f(v); }; })(formatter(s.axis))
      };
      if (s.style === "bars") {
        entry.paths = uPlot.paths.bars({ size: [0.8, 40] });
      }
      series.push(entry);
    });
    var axes = [{
      values: function (u, vals) {
        return vals.map(function (v) {
          return v == null ? "" : spec.kind === "ms-log" ? millis(v) : seconds(v);
        });
      }
    }];
    var scales = { x: spec.kind === "ms-log" ? { time: false, distr: 3 } : { time: false } };
    // The first axis in use goes left with the grid, the others right.
    var placed = 0;
    ["bytes", "count", "count2"].forEach(function (axis) {
      if (!axesUsed[axis]) return;
      var first = placed++ === 0;
      scales[axis] = { auto: true, range: function (u, lo, hi) {
        return [Math.min(0, lo), hi > 0 ? hi * 1.05 : 1];
      } };
      var f = formatter(axis);
      axes.push({
        scale: axis, side: first ? 3 : 1, grid: { show: first }, size: 70,
        values: function (u, vals) { return vals.map(function (v) {
          return v == null ? "" : f(v);
        }); }
      });
    });
    var options = {
      width: Math.max(320, host.clientWidth || 900),
      height: spec.id === "timeline" ? 380 : 240,
      scales: scales, axes: axes, series: series,
      cursor: spec.kind === "ms-log" ? {} : { sync: { key: sync.key } },
      legend: { live: true },
      plugins: [marksPlugin(spec.marks || [])]
    };
    var chart = new uPlot(options, [spec.x].concat(spec.series.map(function (s) {
      return s.values;
    })), host);
    if (spec.kind !== "ms-log") sync.sub(chart);
    drawn.push({ id: spec.id, series: spec.series.length, chart: chart });
  });

  window.addEventListener("resize", function () {
    drawn.forEach(function (d) {
      var host = d.chart.root.parentNode;
      d.chart.setSize({ width: Math.max(320, host.clientWidth), height: d.chart.height });
    });
  });
  document.body.setAttribute("data-charts-ms", String(performance.now()));
  document.body.setAttribute("data-charts-ready", String(drawn.length));
})();
