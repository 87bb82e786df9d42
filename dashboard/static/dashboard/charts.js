/* A tiny SVG bar-chart renderer for the billing dashboard (no dependencies).
 *
 * Each chart is a <figure>: a caption, an SVG image with an accessible name (role="img") and a
 * <title> per bar, a legend, and the same numbers as a table under "Show data" for screen
 * readers and copying. Values are plain numbers for drawing; the texts shown are given as-is
 * (exact decimal strings for money).
 */
(function (global) {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1d4ed8", "#b45309", "#047857", "#7c3aed"];

  function el(name, attributes, text) {
    var node = document.createElement(name);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svgEl(name, attributes, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, String(attributes[key])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* A round step for about `ticks` grid lines up to max. */
  function niceStep(max, ticks) {
    var raw = max / ticks;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= raw) return steps[i] * power;
    return 10 * power;
  }

  function compact(value) {
    var units = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(value) >= units[i][0]) return (value / units[i][0]).toFixed(1).replace(/\.0$/, "") + units[i][1];
    }
    return String(Math.round(value * 100) / 100);
  }

  function figure(caption, svg, legendItems, table) {
    var root = el("figure");
    root.appendChild(el("figcaption", {}, caption));
    root.appendChild(svg);
    if (legendItems.length > 1) {
      var legend = el("ul", { class: "legend" });
      legendItems.forEach(function (name, index) {
        var item = el("li", { class: "s" + (index % PALETTE.length) });
        item.appendChild(el("span", {}, name));
        legend.appendChild(item);
      });
      root.appendChild(legend);
    }
    var details = el("details");
    details.appendChild(el("summary", {}, "Show data"));
    details.appendChild(table);
    root.appendChild(details);
    return root;
  }

  function dataTable(caption, headers, rows) {
    var table = el("table");
    table.appendChild(el("caption", { class: "note" }, caption));
    var head = el("tr");
    headers.forEach(function (text, index) { head.appendChild(el("th", { scope: "col", class: index ? "num" : "" }, text)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    rows.forEach(function (cells) {
      var row = el("tr");
      cells.forEach(function (text, index) {
        row.appendChild(index ? el("td", { class: "num" }, text) : el("th", { scope: "row" }, text));
      });
      body.appendChild(row);
    });
    return table;
  }

  /* Vertical grouped bars: options.categories (x labels), options.series [{name, values, texts}]. */
  function bars(options) {
    var width = 640, height = 280, left = 64, right = 8, top = 12, bottom = 36;
    var categories = options.categories, series = options.series;
    var max = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    var step = niceStep(max || 1, 4);
    var ceiling = Math.max(step, Math.ceil(max / step) * step);
    var plotWidth = width - left - right, plotHeight = height - top - bottom;
    var svg = svgEl("svg", { class: "chart", viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": options.label });
    for (var tick = 0; tick <= ceiling + step / 2; tick += step) {
      var y = top + plotHeight - (tick / ceiling) * plotHeight;
      svg.appendChild(svgEl("line", { class: "grid", x1: left, x2: width - right, y1: y, y2: y }));
      svg.appendChild(svgEl("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, compact(tick)));
    }
    var band = plotWidth / Math.max(categories.length, 1);
    var barWidth = Math.max(1, (band * 0.8) / series.length);
    var labelEvery = Math.ceil(categories.length / 12);
    categories.forEach(function (category, index) {
      var x0 = left + index * band + band * 0.1;
      series.forEach(function (s, position) {
        var value = s.values[index];
        var barHeight = (value / ceiling) * plotHeight;
        var rect = svgEl("rect", {
          x: x0 + position * barWidth, y: top + plotHeight - barHeight, width: Math.max(barWidth - 1, 1),
          height: barHeight, fill: PALETTE[position % PALETTE.length], "data-value": value,
        });
        rect.appendChild(svgEl("title", {}, category + " — " + s.name + ": " + s.texts[index]));
        svg.appendChild(rect);
      });
      if (index % labelEvery === 0) {
        svg.appendChild(svgEl("text", { x: left + index * band + band / 2, y: height - bottom + 16, "text-anchor": "middle" }, category));
      }
    });
    svg.appendChild(svgEl("line", { class: "axis", x1: left, x2: width - right, y1: top + plotHeight, y2: top + plotHeight }));
    var rows = categories.map(function (category, index) {
      return [category].concat(series.map(function (s) { return s.texts[index]; }));
    });
    var table = dataTable(options.label, [options.categoryHeader || ""].concat(series.map(function (s) { return s.name; })), rows);
    return figure(options.caption, svg, series.map(function (s) { return s.name; }), table);
  }

  /* Horizontal bars, one per item: options.items [{name, value, text}]. */
  function hbars(options) {
    var items = options.items;
    var width = 640, row = 28, left = 200, right = 130, top = 4;
    var height = top * 2 + row * Math.max(items.length, 1);
    var max = 0;
    items.forEach(function (item) { if (item.value > max) max = item.value; });
    var svg = svgEl("svg", { class: "chart", viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": options.label });
    items.forEach(function (item, index) {
      var y = top + index * row;
      var barWidth = max ? (item.value / max) * (width - left - right) : 0;
      svg.appendChild(svgEl("text", { x: left - 8, y: y + row / 2 + 4, "text-anchor": "end" }, item.name));
      var rect = svgEl("rect", { x: left, y: y + 3, width: barWidth, height: row - 6, fill: PALETTE[0], "data-value": item.value });
      rect.appendChild(svgEl("title", {}, item.name + ": " + item.text));
      svg.appendChild(rect);
      svg.appendChild(svgEl("text", { x: left + barWidth + 6, y: y + row / 2 + 4 }, item.text));
    });
    var table = dataTable(options.label, [options.categoryHeader || "", options.valueHeader || ""], items.map(function (item) { return [item.name, item.text]; }));
    return figure(options.caption, svg, [], table);
  }

  global.Charts = { bars: bars, hbars: hbars, table: dataTable, el: el };
})(window);
