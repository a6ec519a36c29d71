"""The archive browser's style sheet and script (:mod:`manifests.browser`).

Their bytes are part of archive format 3: the page's Content-Security-Policy allows them by
their SHA-256, and ``offboard verify`` rebuilds the page and compares it byte for byte. Any
change here is a new format version. ``__PAGE__`` in the script is the table's page size.
"""

from __future__ import annotations

STYLE = """
:root { color-scheme: light dark; --line: #8884; --muted: #777; --accent: #2b5fab; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 0 auto; max-width: 76rem; padding: 1rem 1.5rem 4rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 2.2rem 0 .6rem; border-bottom: 1px solid var(--line);
  padding-bottom: .2rem; }
[lang=fr] { color: var(--muted); font-weight: normal; }
h2 [lang=fr]::before, th [lang=fr]::before, dt [lang=fr]::before, .label [lang=fr]::before {
  content: " · "; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #8881; border: 1px solid var(--line); padding: .6rem .8rem;
  overflow-x: auto; white-space: pre; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .5rem; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
th { font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody.kind th { padding-top: .8rem; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0;
  color: inherit; cursor: pointer; }
th button::after { content: " \\2195"; color: var(--muted); }
th[aria-sort=ascending] button::after { content: " \\2191"; color: inherit; }
th[aria-sort=descending] button::after { content: " \\2193"; color: inherit; }
.controls { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center;
  margin: .4rem 0; }
.controls input { font: inherit; padding: .25rem .5rem; min-width: 18rem; }
.pager { display: flex; gap: .75rem; align-items: center; margin: .4rem 0; }
.pager button { font: inherit; padding: .15rem .6rem; }
.muted, .count { color: var(--muted); }
.money { white-space: nowrap; }
.here { font-weight: 600; }
a { color: var(--accent); }
@media print { .controls, .pager, th button::after { display: none; } }
"""

SCRIPT_TEMPLATE = r"""
(function () {
  "use strict";
  var PAGE = __PAGE__;
  var SAFE_HREF = /^[A-Za-z0-9_.~%\/-]+$/;
  var data = JSON.parse(document.getElementById("offboard-data").textContent);
  var collator = new Intl.Collator("en", {numeric: true, sensitivity: "base"});
  function group(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f"); }
  function text(v) { return v === null || v === undefined ? "" : String(v); }
  function grid(root) {
    var rows = data[root.getAttribute("data-grid")] || [];
    var heads = Array.prototype.slice.call(root.querySelectorAll("thead th"));
    var cols = heads.map(function (th) {
      return {
        index: Number(th.getAttribute("data-col")),
        type: th.getAttribute("data-type") || "text",
        link: th.hasAttribute("data-link") ? Number(th.getAttribute("data-link")) : -1
      };
    });
    var hay = rows.map(function (r) {
      return cols.map(function (c) { return text(r[c.index]); }).join("\u0000").toLowerCase();
    });
    var order = rows.map(function (_, i) { return i; });
    var shown = order, page = 0, sorted = -1, direction = 1;
    var search = root.querySelector("input[type=search]");
    var count = root.querySelector(".count");
    var body = root.querySelector("tbody");
    var prev = root.querySelector("[data-page=prev]");
    var next = root.querySelector("[data-page=next]");
    var where = root.querySelector(".page");
    function filter() {
      var terms = search ? search.value.toLowerCase().split(/\s+/).filter(Boolean) : [];
      shown = !terms.length ? order : order.filter(function (i) {
        var h = hay[i];
        for (var t = 0; t < terms.length; t++) { if (h.indexOf(terms[t]) < 0) { return false; } }
        return true;
      });
      page = 0;
      draw();
    }
    function key(c, v) {
      if (c.type === "text") { return text(v); }
      var n = parseFloat(v);
      return isNaN(n) ? -Infinity : n;
    }
    function sortBy(k) {
      direction = sorted === k ? -direction : 1;
      sorted = k;
      var c = cols[k];
      var keys = rows.map(function (r) { return key(c, r[c.index]); });
      order = order.slice().sort(function (a, b) {
        var x = keys[a], y = keys[b];
        var d = c.type === "text" ? collator.compare(x, y) : (x < y ? -1 : x > y ? 1 : 0);
        return d !== 0 ? d * direction : a - b;
      });
      heads.forEach(function (th, j) {
        th.setAttribute("aria-sort", j !== k ? "none" : direction > 0 ? "ascending" : "descending");
      });
      filter();
    }
    function cell(c, r) {
      var td = document.createElement("td");
      var v = r[c.index];
      var shownText = c.type === "count" && v !== null && v !== undefined ? group(v) : text(v);
      if (c.type !== "text") { td.className = "num"; }
      var href = c.link >= 0 ? r[c.link] : null;
      if (typeof href === "string" && SAFE_HREF.test(href)) {
        var a = document.createElement("a");
        a.setAttribute("href", href);
        a.textContent = shownText;
        td.appendChild(a);
      } else {
        td.textContent = shownText;
      }
      return td;
    }
    function draw() {
      var pages = Math.max(1, Math.ceil(shown.length / PAGE));
      page = Math.min(Math.max(page, 0), pages - 1);
      var frag = document.createDocumentFragment();
      var end = Math.min(shown.length, (page + 1) * PAGE);
      for (var j = page * PAGE; j < end; j++) {
        var r = rows[shown[j]];
        var tr = document.createElement("tr");
        for (var k = 0; k < cols.length; k++) { tr.appendChild(cell(cols[k], r)); }
        frag.appendChild(tr);
      }
      if (!shown.length) {
        var none = document.createElement("td");
        none.colSpan = cols.length;
        none.className = "muted";
        none.textContent = rows.length ? "No match \u00b7 Aucun r\u00e9sultat"
          : "None \u00b7 Aucun";
        var empty = document.createElement("tr");
        empty.appendChild(none);
        frag.appendChild(empty);
      }
      while (body.firstChild) { body.removeChild(body.firstChild); }
      body.appendChild(frag);
      count.textContent = group(shown.length) + " / " + group(rows.length);
      count.setAttribute("data-shown", String(shown.length));
      count.setAttribute("data-total", String(rows.length));
      where.textContent = (page + 1) + " / " + pages;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    heads.forEach(function (th, k) {
      var b = th.querySelector("button");
      if (b) { b.addEventListener("click", function () { sortBy(k); }); }
    });
    if (search) { search.addEventListener("input", filter); }
    prev.addEventListener("click", function () { page -= 1; draw(); });
    next.addEventListener("click", function () { page += 1; draw(); });
    draw();
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-grid]"), grid);
  document.body.setAttribute("data-ready", String(Math.round(performance.now())));
})();
"""
