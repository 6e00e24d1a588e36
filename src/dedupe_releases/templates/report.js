// Filter the clusters and related pairs by words typed in the box: every word must occur
// in the item's text (titles, ids, file names, canonical text, diffs). Runs no data as code.
(function () {
  "use strict";
  var box = document.getElementById("filter-box");
  var input = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var items = Array.prototype.slice.call(document.querySelectorAll("[data-filter]"));
  var texts = items.map(function (el) { return el.textContent.toLowerCase(); });
  function apply() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var total = 0, visible = 0;
    items.forEach(function (el, i) {
      var hit = words.every(function (w) { return texts[i].indexOf(w) !== -1; });
      el.hidden = !hit;
      if (el.getAttribute("data-filter") === "cluster") {
        total += 1;
        if (hit) { visible += 1; }
      }
    });
    shown.textContent = words.length ? visible + " of " + total : String(total);
  }
  box.hidden = false;
  input.addEventListener("input", apply);
  apply();
})();
