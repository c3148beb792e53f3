// Figuras interativas do curso (residuais.interactive): desenha em SVG a visão do estado
// escolhido nos controles. Os dados estão no <script type="application/json"> da figura.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  var SUP = {"-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶",
             "7": "⁷", "8": "⁸", "9": "⁹"};
  function power(e) {  // 10 elevado a e, com expoente sobrescrito (10⁻³)
    return "10" + String(e).split("").map(function (c) { return SUP[c]; }).join("");
  }

  // números com vírgula decimal; muito grandes ou muito pequenos em notação científica
  function fmt(v, digits) {
    if (v === null || v === undefined) return "—";
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) {
      var e = Math.floor(Math.log10(a)), m = v / Math.pow(10, e);
      return (Math.abs(m - 1) < 0.05 ? "" : m.toFixed(1).replace(".", ",") + "×") + power(e);
    }
    if (digits === undefined && Number.isInteger(v)) digits = 0;
    var d = digits === undefined ? (a >= 100 ? 0 : a >= 10 ? 1 : 2) : digits;
    return v.toFixed(d).replace(".", ",");
  }

  function el(tag, attrs, parent, text) {
    var node = document.createElementNS(SVG, tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function ticks(lo, hi, log, integer) {
    if (log) {
      var out = [], a = Math.floor(lo), b = Math.ceil(hi), step = Math.max(1, Math.ceil((b - a) / 6));
      for (var e = a; e <= b; e += step) out.push(e);
      return out;
    }
    var span = hi - lo || 1, raw = span / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var factors = integer && mag < 10 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
    var step2 = factors.map(function (f) { return Math.max(f * mag, integer ? 1 : 0); })
      .find(function (s) { return s >= raw; });
    var res = [];
    for (var t = Math.ceil(lo / step2) * step2; t <= hi + step2 * 1e-9; t += step2) res.push(+t.toFixed(10));
    return res;
  }

  // o quadro comum: eixos, grade e rótulos; devolve as funções de posição
  function frame(svg, W, H, xr, yr, opts) {
    var m = {l: 58, r: 12, t: 10, b: 44};
    var pw = W - m.l - m.r, ph = H - m.t - m.b;
    var sx = function (x) { return m.l + (x - xr[0]) / (xr[1] - xr[0] || 1) * pw; };
    var sy = function (y) { return m.t + ph - (y - yr[0]) / (yr[1] - yr[0] || 1) * ph; };
    el("rect", {x: m.l, y: m.t, width: pw, height: ph, fill: "none", stroke: "#999"}, svg);
    var yt = ticks(yr[0], yr[1], opts.log_y);
    // casas decimais do passo: 0,2 → 1 casa; 2,5 → 1; 5 → 0 (todos os tiques com as mesmas)
    var places = yt.length > 1 ? ((String(+(yt[1] - yt[0]).toFixed(10)).split(".")[1] || "").length) : 2;
    yt.forEach(function (t) {
      if (t < yr[0] - 1e-9 || t > yr[1] + 1e-9) return;
      el("line", {x1: m.l, x2: m.l + pw, y1: sy(t), y2: sy(t), stroke: "#e3e3e3"}, svg);
      el("text", {x: m.l - 6, y: sy(t) + 4, "text-anchor": "end", class: "fi-tique"}, svg,
         opts.log_y ? power(t) : fmt(t, places));
    });
    if (opts.xticks) opts.xticks.forEach(function (t) {
      el("text", {x: sx(t.v), y: m.t + ph + 16, "text-anchor": "middle", class: "fi-tique"}, svg, t.label);
    });
    el("text", {x: m.l + pw / 2, y: H - 6, "text-anchor": "middle", class: "fi-eixo"}, svg, opts.xlabel || "");
    el("text", {x: 14, y: m.t + ph / 2, "text-anchor": "middle", class: "fi-eixo",
                transform: "rotate(-90 14 " + (m.t + ph / 2) + ")"}, svg, opts.ylabel || "");
    return {sx: sx, sy: sy, m: m, pw: pw, ph: ph};
  }

  function legend(box, items) {
    box.textContent = "";
    items.forEach(function (it) {
      var span = document.createElement("span");
      var sw = document.createElement("span");
      sw.className = "fi-amostra" + (it.dashed ? " fi-tracejada" : "");
      sw.style.borderColor = it.color;
      span.appendChild(sw);
      span.appendChild(document.createTextNode(it.label));
      box.appendChild(span);
    });
  }

  function drawLines(svg, W, H, v, box) {
    var tf = v.log_y ? function (y) { return Math.log10(y); } : function (y) { return y; };
    var ys = [];
    v.series.forEach(function (s) { s.y.forEach(function (y) { if (y !== null) ys.push(tf(y)); }); });
    var yr = v.y_range ? v.y_range.map(tf) : [Math.min.apply(null, ys), Math.max.apply(null, ys)];
    if (v.log_y && !v.y_range) yr = [Math.floor(yr[0]), Math.ceil(yr[1])];
    if (yr[0] === yr[1]) yr = [yr[0] - 1, yr[1] + 1];
    var xr = [Math.min.apply(null, v.x), Math.max.apply(null, v.x)];
    var integer = v.x.every(Number.isInteger);
    var xt = ticks(xr[0], xr[1], false, integer).map(function (t) { return {v: t, label: fmt(t)}; });
    var f = frame(svg, W, H, xr, yr, {log_y: v.log_y, xlabel: v.xlabel, ylabel: v.ylabel, xticks: xt});
    v.series.forEach(function (s) {
      var d = "", pen = "M";
      s.y.forEach(function (y, i) {
        if (y === null) { pen = "M"; return; }
        var yy = Math.max(yr[0], Math.min(yr[1], tf(y)));
        d += pen + f.sx(v.x[i]).toFixed(1) + " " + f.sy(yy).toFixed(1) + " ";
        pen = "L";
      });
      el("path", {d: d, fill: "none", stroke: s.color, "stroke-width": 2.2,
                  "stroke-dasharray": s.dashed ? "6 4" : "none"}, svg);
    });
    legend(box, v.series);
    return v.series.map(function (s) {
      var ok = s.y.filter(function (y) { return y !== null; });
      return s.label + ": de " + fmt(ok[0]) + " a " + fmt(ok[ok.length - 1]);
    }).join("; ") + ".";
  }

  function shade(t) {  // de quase branco a azul-escuro
    var a = [247, 251, 255], b = [8, 48, 107];
    return "rgb(" + a.map(function (c, i) { return Math.round(c + (b[i] - c) * t); }).join(",") + ")";
  }

  function drawHeat(svg, W, H, v, box) {
    var n = v.row_labels.length, k = v.col_labels.length;
    var longest = Math.max.apply(null, v.col_labels.map(function (l) { return String(l).length; }));
    var upright = (W - 70) / k >= longest * 7 + 4;  // senão, os rótulos das colunas ficam em pé
    var bottom = upright ? 20 : longest * 7 + 8;
    var side = Math.min((W - 70) / k, (H - 30 - bottom) / n);
    var x0 = 58, y0 = 8;
    v.values.forEach(function (row, i) {
      row.forEach(function (val, j) {
        var t = Math.max(0, Math.min(1, (val - v.vmin) / (v.vmax - v.vmin)));
        el("rect", {x: x0 + j * side, y: y0 + i * side, width: side, height: side, fill: shade(t)}, svg);
      });
      el("text", {x: x0 - 5, y: y0 + (i + 0.5) * side + 4, "text-anchor": "end", class: "fi-tique"}, svg, v.row_labels[i]);
    });
    v.col_labels.forEach(function (lab, j) {
      var cx = x0 + (j + 0.5) * side, cy = y0 + n * side + (upright ? 14 : 6);
      el("text", upright ? {x: cx, y: cy, "text-anchor": "middle", class: "fi-tique"}
                         : {x: cx + 4, y: cy, "text-anchor": "end", class: "fi-tique",
                            transform: "rotate(-90 " + (cx + 4) + " " + cy + ")"}, svg, lab);
    });
    el("text", {x: x0 + k * side / 2, y: y0 + n * side + bottom + 16, "text-anchor": "middle", class: "fi-eixo"}, svg, v.xlabel);
    el("text", {x: 12, y: y0 + n * side / 2, "text-anchor": "middle", class: "fi-eixo",
                transform: "rotate(-90 12 " + (y0 + n * side / 2) + ")"}, svg, v.ylabel);
    box.textContent = "";
    var bar = document.createElement("span");
    bar.className = "fi-escala";
    bar.style.background = "linear-gradient(to right," + shade(0) + "," + shade(1) + ")";
    box.appendChild(document.createTextNode(v.value_label + ": " + fmt(v.vmin) + " "));
    box.appendChild(bar);
    box.appendChild(document.createTextNode(" " + fmt(v.vmax)));
    return v.row_labels.map(function (lab, i) {
      var row = v.values[i], j = row.indexOf(Math.max.apply(null, row));
      return lab + " → " + v.col_labels[j] + " (" + fmt(row[j], 2) + ")";
    }).join("; ").replace(/^/, "Maior " + v.value_label + " de cada linha: ") + ".";
  }

  function drawBars(svg, W, H, v, box) {
    var n = v.values.length;
    var xt = v.labels.map(function (lab, i) { return {v: i, label: lab}; });
    var f = frame(svg, W, H, [-0.6, n - 0.4], v.y_range, {ylabel: v.ylabel, xticks: xt});
    var bw = f.pw / n * 0.55;
    v.values.forEach(function (val, i) {
      var y = Math.max(v.y_range[0], Math.min(v.y_range[1], val));
      el("rect", {x: f.sx(i) - bw / 2, y: f.sy(y), width: bw, height: f.sy(v.y_range[0]) - f.sy(y),
                  fill: v.colors[i], "fill-opacity": 0.85}, svg);
      var top = Math.max.apply(null, [y].concat(v.points ? v.points[i] : []));
      el("text", {x: f.sx(i), y: f.sy(Math.min(top, v.y_range[1])) - 8, "text-anchor": "middle",
                  class: "fi-valor"}, svg, fmt(val, 2));
      if (v.points) v.points[i].forEach(function (p, s) {
        el("circle", {cx: f.sx(i) + (s - (v.points[i].length - 1) / 2) * 9, cy: f.sy(p), r: 3.5,
                      fill: "#fff", stroke: "#222", "stroke-width": 1.3}, svg);
      });
    });
    if (v.reference !== undefined) {
      el("line", {x1: f.m.l, x2: f.m.l + f.pw, y1: f.sy(v.reference), y2: f.sy(v.reference),
                  stroke: "#444", "stroke-dasharray": "5 4"}, svg);
      el("text", {x: f.m.l + f.pw - 4, y: f.sy(v.reference) - 5, "text-anchor": "end", class: "fi-tique"}, svg, v.reference_label);
    }
    box.textContent = v.points ? "Barras: média; pontos: cada semente." : "";
    return v.labels.map(function (lab, i) { return lab + ": " + fmt(v.values[i], 2); }).join("; ") + ".";
  }

  var DRAW = {lines: drawLines, heatmap: drawHeat, bars: drawBars};

  function setup(fig) {
    if (fig.dataset.pronta) return;
    fig.dataset.pronta = "1";
    var data = JSON.parse(fig.querySelector("script.fi-dados").textContent);
    var form = fig.querySelector(".fi-controles"), area = fig.querySelector(".fi-desenho");
    var box = fig.querySelector(".fi-legenda"), reading = fig.querySelector(".fi-leitura");
    function key() {
      return data.controls.map(function (c, i) {
        var inputs = form.querySelectorAll('input[data-controle="' + i + '"]');
        if (c.type === "toggle") return inputs[0].checked ? 1 : 0;
        var code = 0;
        inputs.forEach(function (inp) {
          if (!inp.checked) return;
          code = c.type === "choice" ? +inp.value : code + (1 << +inp.value);
        });
        return code;
      }).join("-");
    }
    function chosen() {  // o estado em palavras, para a leitura: “Bloco: 2; Cabeça: 1”
      return data.controls.map(function (c, i) {
        var inputs = Array.prototype.slice.call(
          form.querySelectorAll('input[data-controle="' + i + '"]'));
        if (c.type === "toggle") return c.label + ": " + (inputs[0].checked ? "sim" : "não");
        var on = inputs.filter(function (inp) { return inp.checked; })
          .map(function (inp) { return c.options[+inp.value]; });
        return c.label + ": " + (on.length ? on.join(", ") : "nenhum");
      }).join("; ") + ". ";
    }
    function render() {
      var k = key(), v = Object.assign({}, data.common, data.states[k]);
      var W = Math.max(240, Math.min(720, area.clientWidth || 600));
      var H = v.kind === "heatmap" ? Math.min(W + 40, 500) : Math.round(W < 500 ? W * 0.78 : W * 0.52);
      area.textContent = "";
      var svg = el("svg", {viewBox: "0 0 " + W + " " + H, width: W, height: H, "aria-hidden": "true",
                           focusable: "false"}, area);
      fig.dataset.estado = k;
      reading.textContent = chosen() + DRAW[v.kind](svg, W, H, v, box);
    }
    form.addEventListener("change", render);
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    fig.classList.add("fi-ativa");
    fig.querySelector(".fi-interativa").hidden = false;
    var last = 0;
    window.addEventListener("resize", function () {
      var w = area.clientWidth;
      if (Math.abs(w - last) > 30) { last = w; render(); }
    });
    render();
    last = area.clientWidth;
  }

  function setupAll() {
    document.querySelectorAll("figure.figura-interativa").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setupAll);
  else setupAll();
})();
