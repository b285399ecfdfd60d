"""The conformance page's inline style and script (no external asset, no network).

The script only reads the DOM and the URL fragment; it never builds HTML from data, so
nothing from a report can reach it as code. State lives in the fragment, so a filtered
view is a link: ``#failing``, ``dialect=D``, ``key=K``, ``q=TEXT``, ``open=CASE-ID``
(expands that case's failures), separated by ``&``.
"""

from __future__ import annotations

__all__ = ["SCRIPT", "STYLE"]

STYLE = """
:root { --pass: #2e7d32; --pass-bg: #d8f0d8; --fail: #b71c1c; --fail-bg: #f8d0d0;
  --skip: #616161; --skip-bg: #e8e8e8; --error: #8a4b00; --error-bg: #fbe3b8;
  --none-bg: #ffffff; --line: #c8c8c8; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1a1a1a; background: #fff; }
h1 { font-size: 1.5em; margin: 0 0 .3em; } h2 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid var(--line); padding: 2px 6px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; font-size: .9em; }
ul.findings { margin: .2em 0 0; padding-left: 1.1em; font-family: sans-serif; font-size: .8em; }
li.finding.environment { color: #555; font-style: italic; }
.impl { margin: .5em 0; max-width: 47em; } .impl p.meta { max-width: 36em; }
.impl h3, .impl p.meta, #overview tbody th, #matrix th.impl-col { overflow-wrap: anywhere; }
details.keys > summary { cursor: pointer; }
.bar { display: inline-block; height: .8em; background: var(--pass); vertical-align: middle; }
.bar-wrap { display: inline-block; width: 4em; background: var(--fail-bg); margin-right: .4em;
  text-align: left; }
td.conformance, td.group { white-space: nowrap; }
#impls { display: flex; flex-wrap: wrap; gap: 0 2.5em; }
#filters { margin: .6em 0; padding: .4em .6em; background: #f4f4f4; border: 1px solid var(--line); }
#filters label { margin-right: 1em; }
#matrix th[scope=row] { font-family: ui-monospace, monospace; font-weight: normal;
  white-space: nowrap; }
#matrix thead th { position: sticky; top: 0; background: #fafafa; }
td.cell { min-width: 6em; }
td.passed { background: var(--pass-bg); color: var(--pass); }
td.failed { background: var(--fail-bg); color: var(--fail); }
td.skipped { background: var(--skip-bg); color: var(--skip); }
td.errored { background: var(--error-bg); color: var(--error); }
td.absent { background: var(--none-bg); color: #999; }
td.cell details { color: #1a1a1a; }
td.cell summary { cursor: pointer; font-weight: 600; }
td.failed summary { color: var(--fail); } td.errored summary { color: var(--error); }
td.skipped summary { color: var(--skip); font-weight: normal; }
ul.failures { margin: .3em 0; padding-left: 1.2em; max-width: 60em; }
.key { font-family: ui-monospace, monospace; font-weight: 600; }
.kind { color: #555; }
pre { background: #fff; border: 1px solid var(--line); padding: .3em; margin: .3em 0;
  max-width: 80em; max-height: 30em; overflow: auto; white-space: pre; font-size: 12px; }
pre .add { color: #1b5e20; background: #e6f4e6; } pre .del { color: #8e0000; background: #fbe9e9; }
tr[hidden] { display: none; }
tr.differs td.dialect, tr.differs td.expect { font-style: italic; }
"""

SCRIPT = """
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var table = document.getElementById("matrix");
  if (!form || !table) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var failing = document.getElementById("f-failing");
  var dialect = document.getElementById("f-dialect");
  var key = document.getElementById("f-key");
  var text = document.getElementById("f-text");
  var shown = document.getElementById("shown");
  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); });

  function each(list, f) { Array.prototype.forEach.call(list, f); }
  function words(value) { return (value || "").split(" ").filter(Boolean); }
  function optionFor(select, label) {
    for (var i = 0; i < select.options.length; i++) {
      var option = select.options[i];
      if (option.getAttribute("data-label") === label) { return option.value; }
    }
    return "";
  }
  function labelOf(select) {
    var option = select.options[select.selectedIndex];
    return option ? (option.getAttribute("data-label") || "") : "";
  }
  function apply() {
    var query = text.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var ok = (!failing.checked || row.getAttribute("data-bad") === "1")
        && (!dialect.value || words(row.getAttribute("data-dialect")).indexOf(dialect.value) >= 0)
        && (!key.value || words(row.getAttribute("data-keys")).indexOf(key.value) >= 0)
        && (!query || row.getAttribute("data-case").toLowerCase().indexOf(query) >= 0);
      row.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " cases shown";
  }
  function save() {
    var parts = [];
    if (failing.checked) { parts.push("failing"); }
    if (dialect.value) { parts.push("dialect=" + encodeURIComponent(labelOf(dialect))); }
    if (key.value) { parts.push("key=" + encodeURIComponent(labelOf(key))); }
    if (text.value) { parts.push("q=" + encodeURIComponent(text.value)); }
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname);
  }
  function load() {
    var open = null;
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var at = part.indexOf("=");
      var name = at < 0 ? part : part.slice(0, at);
      var value = "";
      try { value = at < 0 ? "" : decodeURIComponent(part.slice(at + 1)); } catch (e) { return; }
      if (name === "failing") { failing.checked = true; }
      else if (name === "dialect") { dialect.value = optionFor(dialect, value); }
      else if (name === "key") { key.value = optionFor(key, value); }
      else if (name === "q") { text.value = value; }
      else if (name === "open") { open = value; }
    });
    apply();
    if (open !== null) {
      rows.forEach(function (row) {
        if (row.getAttribute("data-case") !== open) { return; }
        row.hidden = false;
        each(row.querySelectorAll("details"), function (d) { d.open = true; });
        var box = row.getBoundingClientRect();
        if (box.top < 0 || box.top > window.innerHeight - 40) { row.scrollIntoView(); }
      });
    }
  }
  function expand(on) {
    rows.forEach(function (row) {
      if (row.hidden) { return; }
      each(row.querySelectorAll("td.failed > details, td.errored > details"),
        function (d) { d.open = on; });
    });
  }
  function changed() { apply(); save(); }
  [failing, dialect, key].forEach(function (el) { el.addEventListener("change", changed); });
  text.addEventListener("input", changed);
  document.getElementById("f-expand").addEventListener("click", function () { expand(true); });
  document.getElementById("f-collapse").addEventListener("click", function () { expand(false); });
  window.addEventListener("hashchange", load);
  load();
}());
"""
