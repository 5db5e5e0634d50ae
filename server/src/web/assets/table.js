// Sorting and filtering for the console's tables; the pages work without it (the server
// renders every row), this only rearranges what is already there.
"use strict";
(function () {
  function key(text) {
    var t = text.replace(/[¥,\s%]/g, "").replace(/^★.*/, "1");
    var n = parseFloat(t);
    return isNaN(n) || !/^-?[\d.]+$/.test(t) ? null : n;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    if (!body) return;
    var filter = document.createElement("input");
    filter.type = "search";
    filter.className = "filter noprint";
    filter.placeholder = "筛选（输入任意文字）";
    table.parentNode.insertBefore(filter, table);
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      Array.prototype.forEach.call(body.rows, function (row) {
        row.hidden = q !== "" && row.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () {
        var desc = th.classList.contains("asc");
        Array.prototype.forEach.call(th.parentNode.cells, function (c) {
          c.classList.remove("asc", "desc");
        });
        th.classList.add(desc ? "desc" : "asc");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].textContent, y = b.cells[col].textContent;
          var kx = key(x), ky = key(y);
          var c = kx !== null && ky !== null ? kx - ky : x.localeCompare(y, "zh-CN");
          return desc ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
