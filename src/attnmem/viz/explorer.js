/* Attention & Memory: the static explorer runtime.
 * Draws explorers from a JSON view spec embedded in the page, with no kernel and no network.
 * Two kinds of view:
 *   "alignment": rows x columns of weights; hover (or tap) a row token to light up the column tokens it attends to.
 *   "frames":    a sequence of frames (time steps, hops, preset settings), each a set of panels (bars, matrix,
 *                text, tokens), moved through with a slider, step buttons and play.
 * Every explorer root gets data-ready="1" when drawn, and data-state describing what is shown, so tests and
 * readers can see it react. */
(function () {
  "use strict";
  if (window.attnmemExplorer) { window.attnmemExplorer.initAll(); return; }

  function el(tag, className, parent, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (parent) parent.appendChild(node);
    return node;
  }
  function shade(weight, hue) {
    var w = Math.max(0, Math.min(1, weight));
    return "hsla(" + (hue === undefined ? 212 : hue) + ", 75%, 45%, " + (0.06 + 0.94 * w).toFixed(3) + ")";
  }
  function ink(weight) { return weight > 0.55 ? "#fff" : "#111"; }
  function fmt(x) { return (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)); }
  function maxOf(rows) {
    var m = 0;
    rows.forEach(function (r) { (Array.isArray(r) ? r : [r]).forEach(function (v) { m = Math.max(m, Math.abs(v)); }); });
    return m > 0 ? m : 1;
  }
  function header(root, spec, names, onSelect) {
    var head = el("div", "am-head", root);
    if (spec.title) el("div", "am-title", head, spec.title);
    if (names.length > 1) {
      var label = el("label", "am-pick", head, (spec.example_label || "example") + " ");
      var select = el("select", "am-select", label);
      names.forEach(function (name, i) { var o = el("option", null, select, name); o.value = String(i); });
      select.addEventListener("change", function () { onSelect(parseInt(select.value, 10)); });
    }
    if (spec.caption) el("div", "am-caption", root, spec.caption);
  }

  /* Size a grid's cells to the width its container has: square cells between 6 and 20 px, column labels that
   * shrink with them. A grid that still does not fit (a phone) scrolls inside its own window, never the page. */
  function fitGrid(grid, columns) {
    var box = grid.parentNode;
    var labelWidth = 0;
    Array.prototype.forEach.call(grid.querySelectorAll("th.am-gr"), function (th) { labelWidth = Math.max(labelWidth, th.offsetWidth); });
    if (!box.clientWidth) return;  // not laid out (a closed dropdown): keep the default size
    var free = box.clientWidth - labelWidth - 4;
    var size = Math.max(6, Math.min(20, Math.floor(free / Math.max(1, columns)) - 1));
    Array.prototype.forEach.call(grid.querySelectorAll("td.am-cell"), function (td) {
      td.style.width = size + "px"; td.style.height = size + "px";
    });
    Array.prototype.forEach.call(grid.querySelectorAll("th.am-gh"), function (th) {
      th.style.width = size + "px"; th.style.maxWidth = (size + 1) + "px";
      th.style.fontSize = Math.max(6, Math.min(11, size - 2)) + "px";
    });
  }
  var resizers = [];
  window.addEventListener("resize", function () { resizers.forEach(function (f) { f(); }); });

  /* ---------- alignment ---------- */
  function alignment(root, spec) {
    var body;
    header(root, spec, spec.examples.map(function (e) { return e.name; }), function (i) { draw(i); });
    body = el("div", "am-body", root);
    var fit = function () {};
    resizers.push(function () { fit(); });
    function draw(index) {
      var ex = spec.examples[index];
      var marks = ex.marks || {};
      var gold = ex.gold || null;
      function isGold(i, j) { return !!gold && gold[i].indexOf(j) >= 0; }
      body.innerHTML = "";
      var top = maxOf(ex.weights);
      if (ex.note) el("div", "am-note", body, ex.note);
      var colLine = el("div", "am-line", body);
      el("span", "am-line-label", colLine, ex.col_label || spec.col_label || "keys");
      var colTokens = ex.cols.map(function (tok, j) {
        var t = el("span", "am-token am-col", colLine, tok); t.dataset.index = j; return t;
      });
      var rowLine = el("div", "am-line", body);
      el("span", "am-line-label", rowLine, ex.row_label || spec.row_label || "queries");
      var rowTokens = ex.rows.map(function (tok, i) {
        var t = el("span", "am-token am-row am-hover" + (marks[i] ? " am-wrong" : ""), rowLine, tok);
        t.dataset.index = i; t.tabIndex = 0;
        if (marks[i]) t.title = marks[i];
        return t;
      });
      var hint = spec.hint || "Hover over (or tap) a row token to see its weights.";
      var readout = el("div", "am-readout", body, hint);
      var scroll = el("div", "am-scroll", body);
      var grid = el("table", "am-grid", scroll);
      var headRow = el("tr", null, grid);
      el("th", null, headRow, "");
      ex.cols.forEach(function (tok) { el("th", "am-gh", headRow, tok); });
      var cells = ex.rows.map(function (tok, i) {
        var tr = el("tr", null, grid);
        var th = el("th", "am-gr am-hover" + (marks[i] ? " am-wrong" : ""), tr, tok); th.dataset.index = i;
        th.addEventListener("mouseenter", function () { select(i); });
        return ex.weights[i].map(function (w, j) {
          var td = el("td", "am-cell" + (isGold(i, j) ? " am-gold" : ""), tr);
          td.style.background = shade(w / top); td.title = fmt(w) + (isGold(i, j) ? " (known alignment)" : "");
          td.addEventListener("mouseenter", function () { select(i); });
          return td;
        });
      });
      if (gold) {
        var key = el("div", "am-key");
        body.insertBefore(key, scroll);
        el("span", "am-cell am-gold am-key-cell", key);
        el("span", null, key, " the known alignment (outlined)");
      }
      function describe(i) {
        var weights = ex.weights[i], best = 0;
        weights.forEach(function (w, j) { if (w > weights[best]) best = j; });
        return [best, (ex.row_label || spec.row_label || "row") + " \u201c" + ex.rows[i] + "\u201d puts " +
          (100 * weights[best]).toFixed(0) + "% of its weight on \u201c" + ex.cols[best] + "\u201d" +
          (ex.row_notes && ex.row_notes[i] ? " \u2014 " + ex.row_notes[i] : "") + (marks[i] ? " \u2014 " + marks[i] : "")];
      }
      /* The read-out keeps the height of its longest text, so the grid below never moves under the pointer. */
      function holdReadoutHeight() {
        readout.style.minHeight = "";
        var tallest = 0, shown = readout.textContent;
        [hint].concat(ex.rows.map(function (_, i) { return describe(i)[1]; })).forEach(function (text) {
          readout.textContent = text; tallest = Math.max(tallest, readout.offsetHeight);
        });
        readout.textContent = shown;
        readout.style.minHeight = tallest + "px";
      }
      function select(i) {
        var weights = ex.weights[i], found = describe(i);
        colTokens.forEach(function (t, j) {
          t.style.background = shade(weights[j] / top); t.style.color = ink(weights[j] / top);
          t.title = fmt(weights[j]); t.classList.toggle("am-gold", isGold(i, j));
        });
        rowTokens.forEach(function (t, k) { t.classList.toggle("am-active", k === i); });
        cells.forEach(function (row, k) { row.forEach(function (td) { td.classList.toggle("am-active-row", k === i); }); });
        readout.textContent = found[1];
        root.dataset.state = index + ":" + i;
      }
      rowTokens.forEach(function (t, i) {
        t.addEventListener("mouseenter", function () { select(i); });
        t.addEventListener("focus", function () { select(i); });
        t.addEventListener("click", function () { select(i); });
      });
      fit = function () { fitGrid(grid, ex.cols.length); holdReadoutHeight(); };
      fit();
      root.dataset.state = index + ":none";
    }
    draw(0);
  }

  /* ---------- frames ---------- */
  function bars(panel, parent) {
    var values = panel.values, top = panel.max || maxOf(values), signed = values.some(function (v) { return v < 0; });
    var highlight = {};
    (panel.highlight || []).forEach(function (i) { highlight[i] = true; });
    if (panel.orientation === "horizontal") {
      var list = el("div", "am-hbars", parent);
      values.forEach(function (v, i) {
        var row = el("div", "am-hbar-row" + (highlight[i] ? " am-marked" : ""), list);
        el("span", "am-hbar-label", row, panel.labels ? panel.labels[i] : i);
        var track = el("span", "am-hbar-track", row);
        var fill = el("span", "am-hbar-fill", track);
        fill.style.width = (100 * Math.abs(v) / top).toFixed(1) + "%";
        fill.style.background = v < 0 ? "hsl(12, 70%, 55%)" : "hsl(212, 70%, 50%)";
        el("span", "am-hbar-value", row, fmt(v));
      });
      return;
    }
    var chart = el("div", "am-vchart", parent);
    if (panel.value_label) el("div", "am-vaxis-title", chart, panel.value_label);
    var axis = el("div", "am-yaxis", chart);
    (signed ? [top, 0, -top] : [top, top / 2, 0]).forEach(function (v) { el("span", null, axis, fmt(v)); });
    var plot = el("div", "am-vplot", chart);
    var box = el("div", "am-vbars" + (signed ? " am-signed" : ""), plot);
    values.forEach(function (v, i) {
      var col = el("div", "am-vbar" + (highlight[i] ? " am-marked" : ""), box);
      col.title = (panel.labels ? panel.labels[i] + ": " : "#" + i + ": ") + fmt(v);
      var fill = el("div", "am-vbar-fill", col);
      var h = 100 * Math.abs(v) / top;
      fill.style.height = (signed ? h / 2 : h).toFixed(1) + "%";
      if (signed) { fill.style[v < 0 ? "top" : "bottom"] = "50%"; }
      fill.style.background = v < 0 ? "hsl(12, 70%, 55%)" : "hsl(212, 70%, 50%)";
    });
    if (panel.labels && panel.labels.length <= 40) {
      var labels = el("div", "am-vbar-labels", plot);
      panel.labels.forEach(function (l) { el("span", null, labels, l); });
    }
    if (panel.label_title) el("div", "am-xaxis-title", plot, panel.label_title);
  }
  function matrix(panel, parent) {
    var top = panel.max || maxOf(panel.values);
    var grid = el("table", "am-grid am-matrix", el("div", "am-scroll", parent));
    if (panel.col_labels) {
      var hr = el("tr", null, grid); el("th", null, hr, "");
      panel.col_labels.forEach(function (l, j) { el("th", "am-gh" + (j === panel.highlight_col ? " am-cursor" : ""), hr, l); });
    }
    panel.values.forEach(function (row, i) {
      var tr = el("tr", null, grid);
      el("th", "am-gr", tr, panel.row_labels ? panel.row_labels[i] : "");
      row.forEach(function (v, j) {
        var td = el("td", "am-cell" + (j === panel.highlight_col ? " am-cursor" : ""), tr);
        td.style.background = v < 0 ? shade(-v / top, 12) : shade(v / top); td.title = fmt(v);
      });
    });
    fitGrid(grid, panel.values[0].length);
  }
  function tokens(panel, parent) {
    var line = el("div", "am-line am-tokens", parent), wrong = panel.first_wrong;
    panel.tokens.forEach(function (tok, i) {
      var cls = "am-token" + (!panel.judged ? "" : wrong === undefined || i < wrong ? " am-right" : " am-after");
      var t = el("span", cls + (i === wrong ? " am-wrong" : ""), line, tok);
      if (i === wrong) t.title = "the first wrong word";
    });
  }
  function frames(root, spec) {
    var current = 0, example = 0, timer = null;
    header(root, spec, spec.examples.map(function (e) { return e.name; }), function (i) { example = i; setup(); });
    var controls = el("div", "am-controls", root);
    var prev = el("button", "am-step", controls, "\u25C0"); prev.dataset.delta = "-1"; prev.type = "button";
    var slider = el("input", "am-slider", controls); slider.type = "range"; slider.min = "0"; slider.step = "1";
    var next = el("button", "am-step", controls, "\u25B6"); next.dataset.delta = "1"; next.type = "button";
    var play = el("button", "am-play", controls, "play"); play.type = "button";
    var position = el("span", "am-position", controls);
    var title = el("div", "am-frame-title", root);
    var text = el("div", "am-frame-text", root);
    var panels = el("div", "am-panels", root);
    function show(i) {
      var list = spec.examples[example].frames;
      current = Math.max(0, Math.min(list.length - 1, i));
      slider.value = String(current);
      var frame = list[current];
      position.textContent = (spec.frame_label || "frame") + " " + (current + 1) + " / " + list.length;
      title.textContent = frame.name || "";
      text.textContent = frame.text || "";
      panels.innerHTML = "";
      frame.panels.forEach(function (panel) {
        var box = el("div", "am-panel" + (panel.wide ? " am-wide" : ""), panels);
        if (panel.title) el("div", "am-panel-title", box, panel.title);
        if (panel.type === "matrix") matrix(panel, box);
        else if (panel.type === "text") el("div", "am-panel-text", box, panel.text);
        else if (panel.type === "points") points(panel, box);
        else if (panel.type === "tokens") tokens(panel, box);
        else bars(panel, box);
      });
      root.dataset.state = example + ":" + current;
    }
    function setup() {
      var n = spec.examples[example].frames.length;
      slider.max = String(n - 1);
      [prev, next, play, slider].forEach(function (c) { c.disabled = n < 2; });
      show(0);
    }
    slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
    [prev, next].forEach(function (b) { b.addEventListener("click", function () { show(current + parseInt(b.dataset.delta, 10)); }); });
    play.addEventListener("click", function () {
      if (timer) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
      play.textContent = "pause";
      var n = spec.examples[example].frames.length;
      if (current >= n - 1) show(0);
      timer = setInterval(function () {
        if (current >= spec.examples[example].frames.length - 1) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
        show(current + 1);
      }, spec.interval_ms || 700);
    });
    setup();
  }

  /* ---------- points on a plane (a panel of frames) ----------
   * Points drawn in an SVG scaled to their bounding box; optional weights drawn as the points' size and colour,
   * a path through points (dark, closed or open), a reference path (dashed) and highlighted points (ringed). */
  function points(panel, parent) {
    var NS = "http://www.w3.org/2000/svg", xy = panel.points, weights = panel.weights || [];
    var xs = xy.map(function (p) { return p[0]; }), ys = xy.map(function (p) { return p[1]; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var span = Math.max(x1 - x0, y1 - y0, 1e-9), pad = 0.06 * span, size = span + 2 * pad;
    var top = panel.max || (weights.length ? maxOf(weights) : 1), unit = size / 100;
    function sx(p) { return (p[0] - x0 + pad).toFixed(4); }
    function sy(p) { return (y1 + pad - p[1]).toFixed(4); }  // y grows upwards, as on paper
    function node(tag, attrs, into) {
      var n = document.createElementNS(NS, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      (into || svg).appendChild(n);
      return n;
    }
    var svg = node("svg", { viewBox: "0 0 " + size.toFixed(4) + " " + size.toFixed(4), role: "img",
                            "class": "am-plane" }, parent);
    svg.style.width = "100%"; svg.style.maxWidth = (panel.width || 320) + "px"; svg.style.display = "block";
    node("rect", { x: 0, y: 0, width: size, height: size, fill: "#fafbfc", stroke: "#d0d5db", "stroke-width": unit / 3 });
    function line(indices, closed, attrs) {
      if (!indices || indices.length < 2) return;
      attrs.points = indices.map(function (i) { return sx(xy[i]) + "," + sy(xy[i]); }).join(" ");
      attrs.fill = "none";
      node(closed ? "polygon" : "polyline", attrs);
    }
    line(panel.reference, true, { stroke: "#8a939e", "stroke-width": unit * 0.6, "stroke-dasharray": unit * 2 + " " + unit * 1.5 });
    line(panel.path, !!panel.closed, { stroke: "#1d2733", "stroke-width": unit * 0.9, "stroke-linejoin": "round" });
    var ringed = {};
    (panel.highlight || []).forEach(function (i) { ringed[i] = true; });
    xy.forEach(function (p, i) {
      var w = weights.length ? Math.max(0, weights[i]) / top : 0;
      var circle = node("circle", { cx: sx(p), cy: sy(p), r: (unit * (1.3 + 3.2 * Math.sqrt(w))).toFixed(4),
                                    fill: weights.length ? shade(w) : "#3b4654",
                                    stroke: ringed[i] ? "hsl(28, 95%, 50%)" : "#3b4654",
                                    "stroke-width": unit * (ringed[i] ? 0.9 : 0.25) });
      node("title", {}, circle).textContent = "point " + i + (weights.length ? ": " + fmt(weights[i]) : "");
      if (panel.labels && xy.length <= 30) {
        var label = node("text", { x: (parseFloat(sx(p)) + unit * 2.2).toFixed(4), y: (parseFloat(sy(p)) - unit * 1.6).toFixed(4),
                                   "font-size": (unit * 3.2).toFixed(4), fill: "#4a5562" });
        label.textContent = String(i);
      }
    });
  }

  var kinds = { alignment: alignment, frames: frames };
  function init(root) {
    var data = root.querySelector('script[type="application/json"]');
    if (!data) return;
    try {
      var spec = JSON.parse(data.textContent);
      var draw = kinds[spec.kind];
      if (!draw) throw new Error("unknown explorer kind " + spec.kind);
      draw(root, spec);
      root.dataset.ready = "1";
    } catch (error) {
      root.dataset.ready = "error";
      el("div", "am-error", root, "This explorer could not be drawn: " + error.message);
    }
  }
  window.attnmemExplorer = {
    initAll: function () {
      var roots = document.querySelectorAll(".attnmem-explorer:not([data-ready])");
      Array.prototype.forEach.call(roots, init);
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", window.attnmemExplorer.initAll);
  else window.attnmemExplorer.initAll();
})();
