// Search, filter and sort the findings already rendered in the page.
// The rows are the data: nothing here builds markup from strings.
(function () {
  "use strict";
  var table = document.getElementById("findings-table");
  var form = document.getElementById("controls");
  if (!table || !form) {
    return;
  }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var search = document.getElementById("f-search");
  var selects = {
    sev: document.getElementById("f-sev"),
    cat: document.getElementById("f-cat"),
    acct: document.getElementById("f-acct"),
    status: document.getElementById("f-status"),
    ie: document.getElementById("f-ev")
  };
  var count = document.getElementById("f-count");
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var pending = 0;

  function textOf(row) {
    // Lower-cased once per row, on the first search.
    if (row.searchText === undefined) {
      row.searchText = row.textContent.replace(/\s+/g, " ").toLowerCase();
    }
    return row.searchText;
  }

  function apply() {
    pending = 0;
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = {};
    Object.keys(selects).forEach(function (key) {
      wanted[key] = selects[key].value;
    });
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var visible = true;
      for (var key in wanted) {
        if (wanted[key] && row.dataset[key] !== wanted[key]) {
          visible = false;
          break;
        }
      }
      if (visible && terms.length) {
        var text = textOf(row);
        for (var t = 0; t < terms.length; t++) {
          if (text.indexOf(terms[t]) < 0) {
            visible = false;
            break;
          }
        }
      }
      row.hidden = !visible;
      if (visible) {
        shown++;
      }
    }
    count.value = shown + " of " + rows.length + " findings shown";
  }

  function schedule() {
    if (pending) {
      clearTimeout(pending);
    }
    pending = setTimeout(apply, 120);
  }

  function sortKey(row, column, numeric) {
    var cell = row.cells[column];
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    return numeric ? Number(raw) : raw.trim().toLowerCase();
  }

  function sortBy(header) {
    var button = header.querySelector("button");
    var column = Number(button.dataset.col);
    var numeric = button.dataset.num === "1";
    var current = header.getAttribute("aria-sort");
    var descending = current ? current === "ascending" : numeric;
    var keyed = rows.map(function (row, index) {
      return { row: row, key: sortKey(row, column, numeric), index: index };
    });
    keyed.sort(function (a, b) {
      var order = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      return (descending ? -order : order) || a.index - b.index;
    });
    rows = keyed.map(function (item) {
      return item.row;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) {
      fragment.appendChild(row);
    });
    tbody.appendChild(fragment);
    headers.forEach(function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  function setOpen(open) {
    rows.forEach(function (row) {
      if (!open || !row.hidden) {
        var details = row.querySelector("details");
        if (details) {
          details.open = open;
        }
      }
    });
  }

  headers.forEach(function (header) {
    header.querySelector("button").addEventListener("click", function () {
      sortBy(header);
    });
  });
  search.addEventListener("input", schedule);
  Object.keys(selects).forEach(function (key) {
    selects[key].addEventListener("change", apply);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    apply();
  });
  form.addEventListener("reset", function () {
    setTimeout(apply, 0);
  });
  document.getElementById("f-expand").addEventListener("click", function () {
    setOpen(true);
  });
  document.getElementById("f-collapse").addEventListener("click", function () {
    setOpen(false);
  });
  window.addEventListener("beforeprint", function () {
    setOpen(true);
  });
  form.hidden = false;
  apply();
})();
