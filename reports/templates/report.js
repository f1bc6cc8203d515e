// Renders the findings and inventory tables from the page's embedded JSON,
// a page of rows at a time, with search, filters and sorting.
// Every value from the data reaches the DOM as a text node (textContent or
// createTextNode); nothing here builds markup from strings.
(function () {
  "use strict";
  var dataNode = document.getElementById("report-data");
  if (!dataNode) {
    return;
  }
  var data = JSON.parse(dataNode.textContent);
  var SEVERITY_RANK = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null && text !== "") {
      node.textContent = String(text);
    }
    return node;
  }

  function append(parent, children) {
    children.forEach(function (child) {
      if (child === null || child === undefined) {
        return;
      }
      parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    });
    return parent;
  }

  function compare(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
  }

  // A paged, searchable, sortable table over an array of rows.
  // options: table, pager, count, noun, rows, columns [{label, key(row), render(row, td)}],
  //          match(row) extra filter, text(row) search text, detail(row) -> node or null,
  //          rowClass(row), pageSize.
  function Grid(options) {
    var self = this;
    self.options = options;
    self.rows = options.rows;
    self.order = self.rows.map(function (_, index) {
      return index;
    });
    self.view = self.order;
    self.page = 0;
    self.pageSize = options.pageSize || 50;
    self.terms = [];
    self.open = {};
    self.searchText = new Array(self.rows.length);
    self.sortColumn = null;
    self.descending = false;
  }

  Grid.prototype.textOf = function (index) {
    var text = this.searchText[index];
    if (text === undefined) {
      text = this.options.text(this.rows[index]).toLowerCase();
      this.searchText[index] = text;
    }
    return text;
  };

  Grid.prototype.filter = function (terms) {
    var self = this;
    self.terms = terms;
    var match = self.options.match;
    self.view = self.order.filter(function (index) {
      var row = self.rows[index];
      if (match && !match(row)) {
        return false;
      }
      if (terms.length) {
        var text = self.textOf(index);
        for (var t = 0; t < terms.length; t++) {
          if (text.indexOf(terms[t]) < 0) {
            return false;
          }
        }
      }
      return true;
    });
    self.page = 0;
    self.render();
  };

  Grid.prototype.sortBy = function (column, descending) {
    var self = this;
    var key = self.options.columns[column].key;
    var keyed = self.rows.map(function (row, index) {
      return { key: key(row), index: index };
    });
    keyed.sort(function (a, b) {
      var order = compare(a.key, b.key);
      return (descending ? -order : order) || a.index - b.index;
    });
    self.order = keyed.map(function (item) {
      return item.index;
    });
    self.sortColumn = column;
    self.descending = descending;
    self.filter(self.terms);
  };

  Grid.prototype.pages = function () {
    return Math.max(1, Math.ceil(this.view.length / this.pageSize));
  };

  Grid.prototype.render = function () {
    var self = this;
    var options = self.options;
    var tbody = options.table.tBodies[0];
    var start = self.page * self.pageSize;
    var fragment = document.createDocumentFragment();
    self.view.slice(start, start + self.pageSize).forEach(function (index) {
      var row = self.rows[index];
      var tr = document.createElement("tr");
      if (options.rowClass) {
        tr.className = options.rowClass(row);
      }
      options.columns.forEach(function (column) {
        var td = document.createElement("td");
        column.render(row, td, self, index);
        tr.appendChild(td);
      });
      fragment.appendChild(tr);
      if (options.detail && self.open[index]) {
        var detail = document.createElement("tr");
        detail.className = "detail-row";
        var cell = document.createElement("td");
        cell.colSpan = options.columns.length;
        cell.appendChild(options.detail(row));
        detail.appendChild(cell);
        fragment.appendChild(detail);
      }
    });
    tbody.textContent = "";
    tbody.appendChild(fragment);
    if (options.count) {
      options.count.value = self.view.length + " of " + self.rows.length + " " + options.noun + " shown";
    }
    self.renderPager();
  };

  Grid.prototype.go = function (page) {
    this.page = Math.min(Math.max(0, page), this.pages() - 1);
    this.render();
  };

  Grid.prototype.renderPager = function () {
    var self = this;
    var pager = self.options.pager;
    if (!pager) {
      return;
    }
    pager.textContent = "";
    var last = self.pages() - 1;
    function button(label, page, disabled) {
      var b = el("button", "", label);
      b.type = "button";
      b.disabled = disabled;
      b.addEventListener("click", function () {
        self.go(page);
      });
      return b;
    }
    append(pager, [
      button("« First", 0, self.page === 0),
      button("‹ Previous", self.page - 1, self.page === 0),
      el("span", "page-of", "Page " + (self.page + 1) + " of " + (last + 1)),
      button("Next ›", self.page + 1, self.page >= last),
      button("Last »", last, self.page >= last)
    ]);
  };

  Grid.prototype.toggle = function (index) {
    if (this.open[index]) {
      delete this.open[index];
    } else {
      this.open[index] = true;
    }
    this.render();
  };

  Grid.prototype.setOpen = function (open) {
    var self = this;
    if (!open) {
      self.open = {};
    } else {
      var start = self.page * self.pageSize;
      self.view.slice(start, start + self.pageSize).forEach(function (index) {
        self.open[index] = true;
      });
    }
    self.render();
  };

  function attachSorting(grid, headerRow, initial) {
    var headers = Array.prototype.slice.call(headerRow.cells);
    headers.forEach(function (th, column) {
      var button = th.querySelector("button");
      button.addEventListener("click", function () {
        var descending = grid.sortColumn === column ? !grid.descending : !!grid.options.columns[column].numeric;
        headers.forEach(function (other) {
          other.removeAttribute("aria-sort");
        });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        grid.sortBy(column, descending);
      });
    });
    if (initial) {
      grid.sortColumn = initial.column;
      grid.descending = initial.descending;
    }
  }

  function terms(input) {
    return input.value.toLowerCase().split(/\s+/).filter(Boolean);
  }

  function debounced(action) {
    var pending = 0;
    return function () {
      if (pending) {
        clearTimeout(pending);
      }
      pending = setTimeout(function () {
        pending = 0;
        action();
      }, 150);
    };
  }

  // --- findings ---------------------------------------------------------------

  function findingsTable() {
    var table = document.getElementById("findings-table");
    var form = document.getElementById("controls");
    if (!table || !form) {
      return;
    }
    var F = {};
    data.findings.columns.forEach(function (name, index) {
      F[name] = index;
    });
    var rows = data.findings.rows;
    var search = document.getElementById("f-search");
    var selects = {
      sev: document.getElementById("f-sev"),
      cat: document.getElementById("f-cat"),
      acct: document.getElementById("f-acct"),
      status: document.getElementById("f-status"),
      ie: document.getElementById("f-ev")
    };
    var wanted = {};

    function value(row, key) {
      switch (key) {
        case "sev":
          return row[F.severity];
        case "cat":
          return row[F.category];
        case "acct":
          return row[F.account] || "-";
        case "status":
          return row[F.status];
        default:
          return String(row[F.ie]);
      }
    }

    function pill(kind, text) {
      return el("span", "pill " + kind + "-" + text, text);
    }

    function principalCell(row, td) {
      append(td, [row[F.pname] || row[F.pid], el("br"), el("span", "muted", row[F.ptype].replace(/_/g, " ") + (row[F.pname] ? " · " + row[F.pid] : ""))]);
    }

    function accountCell(row, td) {
      if (!row[F.account]) {
        td.appendChild(el("span", "muted", "organisation-wide"));
        return;
      }
      append(td, [row[F.account]]);
      if (row[F.account_name]) {
        append(td, [el("br"), el("span", "muted", row[F.account_name])]);
      }
    }

    function titleCell(row, td, grid, index) {
      var button = el("button", "expand", row[F.title]);
      button.type = "button";
      button.setAttribute("aria-expanded", grid.open[index] ? "true" : "false");
      button.addEventListener("click", function () {
        grid.toggle(index);
      });
      td.appendChild(button);
      if (row[F.ie]) {
        append(td, [" ", el("span", "pill ie", "insufficient evidence")]);
      }
    }

    function fact(dl, label, text, code) {
      if (!text) {
        return;
      }
      dl.appendChild(el("dt", "", label));
      var dd = el("dd");
      dd.appendChild(code ? el("code", "", text) : document.createTextNode(text));
      dl.appendChild(dd);
    }

    function detail(row) {
      var box = el("div", "detail");
      var dl = el("dl", "facts");
      fact(dl, "Finding id", row[F.id], true);
      fact(dl, "Principal", row[F.ptype] + " " + row[F.pid] + (row[F.pname] ? " (" + row[F.pname] + ")" : ""));
      fact(dl, "Principal ARN", row[F.parn], true);
      fact(dl, "Resource", row[F.resource], true);
      fact(dl, "Controls", row[F.controls].join(", "));
      fact(dl, "First seen", row[F.first_seen]);
      fact(dl, "Resolved", row[F.resolved_at]);
      box.appendChild(dl);
      box.appendChild(el("h4", "", "Evidence"));
      var evidence = row[F.evidence];
      var keys = Object.keys(evidence);
      if (!keys.length) {
        box.appendChild(el("p", "muted", "No evidence recorded."));
      } else {
        var table = el("table", "evidence");
        keys.forEach(function (key) {
          var tr = el("tr");
          var th = el("th", "", key);
          th.scope = "row";
          var td = el("td");
          var item = evidence[key];
          if (item !== null && typeof item === "object") {
            td.appendChild(el("pre", "", JSON.stringify(item, null, 2)));
          } else {
            td.textContent = String(item);
          }
          append(tr, [th, td]);
          table.appendChild(tr);
        });
        box.appendChild(table);
      }
      if (row[F.recommendation]) {
        box.appendChild(el("h4", "", "Recommended action"));
        box.appendChild(el("p", "wrap", row[F.recommendation]));
      }
      return box;
    }

    var columns = [
      {
        key: function (row) {
          return SEVERITY_RANK[row[F.severity]];
        },
        numeric: true,
        render: function (row, td) {
          td.appendChild(pill("sev", row[F.severity]));
        }
      },
      {
        key: function (row) {
          return row[F.category];
        },
        render: function (row, td) {
          td.textContent = row[F.category].replace(/_/g, " ");
        }
      },
      {
        key: function (row) {
          return row[F.rule];
        },
        render: function (row, td) {
          td.appendChild(el("code", "", row[F.rule]));
        }
      },
      {
        key: function (row) {
          return (row[F.pname] || row[F.pid]).toLowerCase();
        },
        render: principalCell
      },
      {
        key: function (row) {
          return row[F.account];
        },
        render: accountCell
      },
      {
        key: function (row) {
          return row[F.title].toLowerCase();
        },
        render: titleCell
      },
      {
        key: function (row) {
          return row[F.status];
        },
        render: function (row, td) {
          td.appendChild(pill("st", row[F.status]));
        }
      },
      {
        key: function (row) {
          return row[F.first_seen];
        },
        render: function (row, td) {
          td.textContent = row[F.first_seen];
        }
      }
    ];

    var grid = new Grid({
      table: table,
      pager: document.getElementById("findings-pager"),
      count: document.getElementById("f-count"),
      noun: "findings",
      rows: rows,
      columns: columns,
      pageSize: Number(document.getElementById("f-size").value),
      match: function (row) {
        for (var key in wanted) {
          if (wanted[key] && value(row, key) !== wanted[key]) {
            return false;
          }
        }
        return true;
      },
      text: function (row) {
        return [
          row[F.id], row[F.severity], row[F.category], row[F.rule], row[F.status], row[F.ptype], row[F.pid],
          row[F.pname], row[F.parn], row[F.account], row[F.account_name], row[F.resource], row[F.title],
          row[F.controls].join(" "), row[F.recommendation], JSON.stringify(row[F.evidence])
        ].join(" ");
      },
      detail: detail,
      rowClass: function (row) {
        return row[F.ie] ? "ie" : "";
      }
    });
    attachSorting(grid, table.tHead.rows[0], { column: 0, descending: true });

    function apply() {
      Object.keys(selects).forEach(function (key) {
        wanted[key] = selects[key].value;
      });
      grid.filter(terms(search));
    }

    search.addEventListener("input", debounced(apply));
    Object.keys(selects).forEach(function (key) {
      selects[key].addEventListener("change", apply);
    });
    document.getElementById("f-size").addEventListener("change", function (event) {
      grid.pageSize = Number(event.target.value);
      grid.go(0);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      apply();
    });
    form.addEventListener("reset", function () {
      setTimeout(function () {
        grid.pageSize = Number(document.getElementById("f-size").value);
        apply();
      }, 0);
    });
    document.getElementById("f-expand").addEventListener("click", function () {
      grid.setOpen(true);
    });
    document.getElementById("f-collapse").addEventListener("click", function () {
      grid.setOpen(false);
    });
    Array.prototype.forEach.call(document.querySelectorAll("button.show-status"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        form.reset();
        setTimeout(function () {
          selects.status.value = button.getAttribute("data-status");
          apply();
          table.scrollIntoView();
        }, 0);
      });
    });
    form.hidden = false;
    apply();
  }

  // --- inventory ----------------------------------------------------------------

  function inventoryTables() {
    Array.prototype.forEach.call(document.querySelectorAll("div.inventory-table"), function (block) {
      var source = data.inventory[block.getAttribute("data-table")];
      if (!source) {
        return;
      }
      var table = block.querySelector("table");
      var headerRow = table.tHead.insertRow();
      var numeric = source.columns.map(function (_, column) {
        return source.rows.length > 0 && source.rows.every(function (row) {
          return typeof row[column] === "number";
        });
      });
      source.columns.forEach(function (label, column) {
        var th = el("th", numeric[column] ? "num" : "");
        var button = el("button", "", label);
        button.type = "button";
        th.appendChild(button);
        headerRow.appendChild(th);
      });
      var columns = source.columns.map(function (_, column) {
        return {
          numeric: numeric[column],
          key: function (row) {
            var cell = row[column];
            return typeof cell === "number" ? cell : String(cell).toLowerCase();
          },
          render: function (row, td) {
            if (numeric[column]) {
              td.className = "num";
            }
            td.textContent = String(row[column]);
          }
        };
      });
      var search = block.querySelector("input.g-search");
      var grid = new Grid({
        table: table,
        pager: block.querySelector("nav.pager"),
        count: block.querySelector("output.g-count"),
        noun: "rows",
        rows: source.rows,
        columns: columns,
        pageSize: 25,
        text: function (row) {
          return row.join(" ");
        }
      });
      attachSorting(grid, headerRow, null);
      search.addEventListener("input", debounced(function () {
        grid.filter(terms(search));
      }));
      block.querySelector("div.controls").hidden = false;
      grid.filter([]);
    });
  }

  findingsTable();
  inventoryTables();
})();
