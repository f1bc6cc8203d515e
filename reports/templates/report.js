// Renders the people, findings and inventory tables from the page's embedded JSON,
// a page of rows at a time, with search, filters, sorting and a CSV export of what is shown.
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

  var TYPES = data.types || {};
  var LABELS = data.labels || {};
  var ISO_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]00:00)$/;

  function typeLabel(type) {
    return TYPES[type] || String(type).replace(/_/g, " ");
  }

  function link(anchor, text, className) {
    var a = el("a", className, text);
    a.href = "#" + anchor;
    return a;
  }

  // --- CSV export: what findings.csv writes, with its guard against spreadsheet formulas ------------

  var TRIGGERS = (data.csv && data.csv.triggers) || "=+-@\t\r\n";

  function neutralise(value) {
    var text = value === null || value === undefined ? "" : String(value);
    if (!text) {
      return "";
    }
    // the characters Python's str.isspace() strips, so the guard is findings.csv's, character for character
    var stripped = text.replace(/^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/, "");
    var formula = TRIGGERS.indexOf(text.charAt(0)) >= 0 || (stripped && TRIGGERS.indexOf(stripped.charAt(0)) >= 0);
    return formula ? "'" + text : text;
  }

  function csvCell(value) {
    var text = neutralise(value);
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function csvText(header, rows) {
    return [header].concat(rows).map(function (cells) {
      return cells.map(csvCell).join(",");
    }).join("\r\n") + "\r\n";
  }

  function download(name, text) {
    var blob = new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" });
    // called through .call: the report's tests refuse any CSS-like url token in the page
    var href = URL.createObjectURL.call(URL, blob);
    var a = el("a");
    a.href = href;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () {
      URL.revokeObjectURL.call(URL, href);
    }, 10000);
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
      if (match && !match(row, index)) {
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

  // Every row the filters and search let through, in the order shown (all pages).
  Grid.prototype.shownRows = function () {
    var rows = this.rows;
    return this.view.map(function (index) {
      return rows[index];
    });
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

  // ``apply`` run at once (Enter, a select) or after a pause in typing. The pause re-applies only
  // text not applied yet: after Enter it would re-render the same rows under a click on one of them.
  function whileTyping(search, apply) {
    var applied = null;
    function now() {
      applied = search.value;
      apply();
    }
    search.addEventListener("input", debounced(function () {
      if (search.value !== applied) {
        now();
      }
    }));
    return now;
  }

  // --- evidence: labelled facts, never raw keys or JSON ---------------------------------

  function label(key) {
    return LABELS[key] || key;
  }

  function isScalar(value) {
    return value === null || value === undefined || typeof value !== "object";
  }

  function scalarText(value) {
    if (value === null || value === undefined) {
      return "none";
    }
    if (value === true || value === false) {
      return value ? "yes" : "no";
    }
    var time = typeof value === "string" ? ISO_TIME.exec(value) : null;
    return time ? time[1] + " " + time[2] + " UTC" : String(value);
  }

  function evidenceValue(value) {
    if (isScalar(value)) {
      return value === null || value === undefined ? el("span", "muted", "none") : document.createTextNode(scalarText(value));
    }
    if (!Array.isArray(value)) {
      return evidenceNode(value);
    }
    if (!value.length) {
      return el("span", "muted", "none");
    }
    if (value.every(isScalar)) {
      var text = value.map(scalarText).join(", ");
      if (value.length <= 3 || text.length <= 120) {
        return document.createTextNode(text);
      }
    }
    var records = value.every(function (item) {
      return item !== null && typeof item === "object" && !Array.isArray(item);
    });
    if (records) {
      var keys = [];
      value.forEach(function (item) {
        Object.keys(item).forEach(function (key) {
          if (keys.indexOf(key) < 0) {
            keys.push(key);
          }
        });
      });
      var table = el("table", "evidence");
      var head = el("tr");
      keys.forEach(function (key) {
        head.appendChild(el("th", "", label(key)));
      });
      table.appendChild(head);
      value.forEach(function (item) {
        var tr = el("tr");
        keys.forEach(function (key) {
          tr.appendChild(append(el("td"), [evidenceValue(item[key])]));
        });
        table.appendChild(tr);
      });
      return table;
    }
    var list = el("ul", "values");
    value.forEach(function (item) {
      list.appendChild(append(el("li"), [evidenceValue(item)]));
    });
    return list;
  }

  function evidenceNode(object) {
    var table = el("table", "evidence");
    Object.keys(object).forEach(function (key) {
      var th = el("th", "", label(key));
      th.scope = "row";
      table.appendChild(append(el("tr"), [th, append(el("td"), [evidenceValue(object[key])])]));
    });
    return table;
  }

  // --- people: who each person is and everything they can reach ------------------------

  var F = {};
  data.findings.columns.forEach(function (name, index) {
    F[name] = index;
  });
  var SEVERITIES = ["critical", "high", "medium", "low", "info"];
  var WEIGHTS = [10, 5, 2, 1, 0];

  var people = (function () {
    var source = data.people || { columns: [], rows: [], accounts: [], sets: [], groups: [] };
    var P = {};
    source.columns.forEach(function (name, index) {
      P[name] = index;
    });
    var owner = {};
    var byAnchor = {};
    var persons = source.rows.map(function (row) {
      var accounts = [];
      row[P.access].forEach(function (path) {
        if (accounts.indexOf(path[0]) < 0) {
          accounts.push(path[0]);
        }
      });
      var risk = 0;
      row[P.open].forEach(function (count, s) {
        risk += WEIGHTS[s] * count;
      });
      var person = { row: row, anchor: row[P.anchor], accounts: accounts, risk: risk };
      row[P.findings].forEach(function (index) {
        owner[index] = person;
      });
      byAnchor[person.anchor] = person;
      return person;
    });
    return {
      P: P,
      source: source,
      persons: persons,
      byAnchor: byAnchor,
      ownerOf: function (index) {
        return owner[index] || null;
      }
    };
  })();

  function accountCells(td, index) {
    var account = people.source.accounts[index];
    append(td, [account[0]]);
    if (account[1]) {
      append(td, [" ", el("span", "muted", account[1])]);
    }
    return td;
  }

  function smallTable(headers, rows, className) {
    var table = el("table", "grid compact " + className);
    var head = el("tr");
    headers.forEach(function (text) {
      head.appendChild(el("th", "", text));
    });
    table.appendChild(append(el("thead"), [head]));
    var body = el("tbody");
    rows.forEach(function (cells) {
      var tr = el("tr");
      cells.forEach(function (cell) {
        tr.appendChild(cell && cell.nodeType ? cell : el("td", "", cell));
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  function personSection(person, findingsApi) {
    var P = people.P;
    var source = people.source;
    var row = person.row;
    var section = el("section", "person");
    section.id = person.anchor;
    var close = el("button", "close", "Close");
    close.type = "button";
    close.addEventListener("click", function () {
      section.remove();
    });
    var heading = append(el("h3"), [el("span", "name", row[P.name])]);
    if (row[P.user_name] && row[P.user_name] !== row[P.name]) {
      append(heading, [" ", el("span", "muted name", row[P.user_name])]);
    }
    append(section, [append(el("div", "person-head"), [heading, close])]);
    var dl = el("dl", "facts");
    function fact(name, value) {
      dl.appendChild(el("dt", "", name));
      dl.appendChild(value && value.nodeType ? append(el("dd"), [value]) : el("dd", "", value || "—"));
    }
    fact("User name", row[P.user_name]);
    if (row[P.email]) {
      fact("Email", row[P.email]);
    }
    if (row[P.employee_id]) {
      fact("Employee id", row[P.employee_id]);
    }
    fact("HR status", (row[P.hr_status] || "—") + (row[P.employment_type] ? " (" + row[P.employment_type] + ")" : ""));
    if (row[P.department]) {
      fact("Department", row[P.department] + (row[P.previous_department] ? " (moved from " + row[P.previous_department] + ")" : ""));
    }
    if (row[P.title]) {
      fact("Title", row[P.title]);
    }
    if (row[P.manager]) {
      fact("Manager", row[P.manager_anchor] ? link(row[P.manager_anchor], row[P.manager]) : row[P.manager]);
    }
    if (row[P.start] || row[P.end]) {
      fact("Employment", (row[P.start] || "?") + " to " + (row[P.end] || "today"));
    }
    if (row[P.idc_status]) {
      fact("Identity Center", row[P.idc_status].toLowerCase());
    }
    fact("Groups", row[P.groups].map(function (g) {
      return source.groups[g];
    }).join(", ") || "none");
    fact("Last activity", row[P.last_activity] || "none observed");
    section.appendChild(dl);

    var access = row[P.access];
    section.appendChild(el("h4", "", "Can reach (" + access.length + ")"));
    section.appendChild(access.length ? smallTable(["Account", "Permission set", "Via", "Last used"], access.map(function (path) {
      return [accountCells(el("td"), path[0]), source.sets[path[1]], path[2] < 0 ? "direct" : "group " + source.groups[path[2]], path[3] || "—"];
    }), "reach") : el("p", "muted", "No Identity Center access."));
    var iam = row[P.iam];
    if (iam.length) {
      section.appendChild(el("h4", "", "IAM users (" + iam.length + ")"));
      section.appendChild(smallTable(["Account", "User name", "Console", "MFA", "Active keys", "Last used"], iam.map(function (user) {
        return [accountCells(el("td"), user[0]), user[1], user[2], user[3], String(user[4]), user[5] || "—"];
      }), "iam-users"));
    }
    var findings = row[P.findings];
    section.appendChild(el("h4", "", "Findings (" + findings.length + ")"));
    if (!findings.length) {
      section.appendChild(el("p", "muted", "None."));
      return section;
    }
    var table = smallTable(["Severity", "Finding", "Account", "Status", "First seen"], findings.map(function (index) {
      var finding = data.findings.rows[index];
      var account = el("td");
      if (finding[F.account]) {
        append(account, [finding[F.account], " ", el("span", "muted", finding[F.account_name])]);
      } else {
        account.textContent = "Identity Center";
      }
      return [
        append(el("td"), [el("span", "pill sev-" + finding[F.severity], finding[F.severity])]),
        finding[F.title],
        account,
        append(el("td"), [el("span", "pill st-" + finding[F.status], finding[F.status])]),
        finding[F.first_seen]
      ];
    }), "their-findings");
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr, n) {
      tr.setAttribute("data-finding", data.findings.rows[findings[n]][F.id]);
    });
    section.appendChild(table);
    if (findingsApi) {
      var show = el("button", "", "Show their " + findings.length + " finding" + (findings.length === 1 ? "" : "s") + " in the findings table");
      show.type = "button";
      show.className = "show-person";
      show.addEventListener("click", function () {
        findingsApi.showPerson(person);
      });
      section.appendChild(show);
    }
    return section;
  }

  function peopleTable(findingsApi) {
    var table = document.getElementById("people-table");
    var form = document.getElementById("people-controls");
    var view = document.getElementById("person-view");
    if (!table || !form || !data.people) {
      return;
    }
    var P = people.P;
    var source = people.source;
    var search = document.getElementById("p-search");
    var hr = document.getElementById("p-hr");
    var open = document.getElementById("p-open");

    function show(person) {
      var existing = document.getElementById(person.anchor);
      if (existing) {
        existing.remove();
      }
      var section = personSection(person, findingsApi);
      view.insertBefore(section, view.firstChild);
      return section;
    }

    function text(person) {
      var row = person.row;
      var parts = [row[P.name], row[P.user_name], row[P.email], row[P.employee_id], row[P.department], row[P.title],
        row[P.manager], row[P.hr_status], row[P.employment_type]];
      row[P.groups].forEach(function (g) {
        parts.push(source.groups[g]);
      });
      person.accounts.forEach(function (a) {
        parts.push(source.accounts[a][0], source.accounts[a][1]);
      });
      row[P.access].forEach(function (path) {
        parts.push(source.sets[path[1]]);
      });
      row[P.iam].forEach(function (user) {
        parts.push(user[1], source.accounts[user[0]][0]);
      });
      return parts.join(" ");
    }

    var grid = new Grid({
      table: table,
      pager: document.getElementById("people-pager"),
      count: document.getElementById("p-count"),
      noun: "people",
      rows: people.persons,
      pageSize: 25,
      text: text,
      match: function (person) {
        var status = person.row[P.hr_status];
        if (hr.value && (hr.value === "exempt" ? status.indexOf("exempt") !== 0 : status !== hr.value)) {
          return false;
        }
        return !open.value || person.row[P.open].some(function (count) {
          return count > 0;
        });
      },
      columns: [
        {
          key: function (person) {
            return person.row[P.name].toLowerCase();
          },
          render: function (person, td) {
            append(td, [link(person.anchor, person.row[P.name], "name")]);
            if (person.row[P.user_name] && person.row[P.user_name] !== person.row[P.name]) {
              append(td, [el("br"), el("span", "muted name", person.row[P.user_name])]);
            }
          }
        },
        {
          key: function (person) {
            return person.row[P.department].toLowerCase();
          },
          render: function (person, td) {
            td.textContent = person.row[P.department];
          }
        },
        {
          key: function (person) {
            return person.row[P.hr_status];
          },
          render: function (person, td) {
            td.textContent = person.row[P.hr_status];
          }
        },
        {
          numeric: true,
          key: function (person) {
            return person.accounts.length;
          },
          render: function (person, td) {
            td.className = "num";
            td.textContent = String(person.accounts.length);
          }
        },
        {
          numeric: true,
          key: function (person) {
            return person.risk;
          },
          render: function (person, td) {
            person.row[P.open].forEach(function (count, s) {
              if (count) {
                append(td, [el("span", "pill sev-" + SEVERITIES[s], count + " " + SEVERITIES[s]), " "]);
              }
            });
          }
        },
        {
          key: function (person) {
            return person.row[P.last_activity];
          },
          render: function (person, td) {
            td.textContent = person.row[P.last_activity] || "—";
          }
        }
      ]
    });
    attachSorting(grid, table.tHead.rows[0], null);

    var apply = whileTyping(search, function () {
      grid.filter(terms(search));
    });
    hr.addEventListener("change", apply);
    open.addEventListener("change", apply);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      apply();
    });
    document.getElementById("p-export").addEventListener("click", function () {
      var header = ["name", "user_name", "email", "employee_id", "department", "title", "manager", "hr_status",
        "employment_type", "start_date", "end_date", "identity_center_status", "groups", "accounts",
        "permission_sets", "open_critical", "open_high", "open_medium", "open_low", "open_info", "findings",
        "last_activity"];
      download("people-shown.csv", csvText(header, grid.shownRows().map(function (person) {
        var row = person.row;
        var sets = [];
        row[P.access].forEach(function (path) {
          var name = source.sets[path[1]];
          if (sets.indexOf(name) < 0) {
            sets.push(name);
          }
        });
        return [row[P.name], row[P.user_name], row[P.email], row[P.employee_id], row[P.department], row[P.title],
          row[P.manager], row[P.hr_status], row[P.employment_type], row[P.start], row[P.end], row[P.idc_status],
          row[P.groups].map(function (g) {
            return source.groups[g];
          }).join("; "),
          person.accounts.map(function (a) {
            return source.accounts[a][0];
          }).join("; "),
          sets.sort().join("; ")].concat(row[P.open].map(String)).concat([String(row[P.findings].length), row[P.last_activity]]);
      })));
    });

    // a link to #person-... (a name in a table, a manager) opens that person's section, here
    document.addEventListener("click", function (event) {
      var target = event.target.closest ? event.target.closest("a[href^='#person-']") : null;
      var person = target ? people.byAnchor[target.getAttribute("href").slice(1)] : null;
      if (person) {
        show(person);
      }
    });
    function fromHash() {
      var person = people.byAnchor[decodeURIComponent(location.hash.slice(1))];
      if (person && !document.getElementById(person.anchor)) {
        show(person).scrollIntoView();
      }
    }
    window.addEventListener("hashchange", fromHash);
    var fallback = document.getElementById("people-static");
    if (fallback) {
      fallback.remove(); // the list for browsers without JavaScript: here the search finds everyone
    }
    table.hidden = false;
    form.hidden = false;
    apply();
    fromHash();
  }

  // --- findings ---------------------------------------------------------------

  function findingsTable() {
    var table = document.getElementById("findings-table");
    var form = document.getElementById("controls");
    if (!table || !form) {
      return null;
    }
    var rows = data.findings.rows;
    var personFilter = null;
    var chip = document.getElementById("f-person");
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

    function principalName(row) {
      return row[F.ptype] === "root" ? "root user" : row[F.pname] || row[F.pid];
    }

    function principalSub(row) {
      if (row[F.ptype] === "root") {
        return ""; // the account column says whose
      }
      var sub = typeLabel(row[F.ptype]);
      return row[F.pname] && row[F.pid] !== row[F.pname] && row[F.pid].length <= 24 ? sub + " · " + row[F.pid] : sub;
    }

    function principalCell(row, td, grid, index) {
      var person = people.ownerOf(index);
      var name = person ? link(person.anchor, principalName(row), "name") : el("span", "name", principalName(row));
      var sub = principalSub(row);
      append(td, sub ? [name, el("br"), el("span", "muted", sub)] : [name]);
    }

    function accountCell(row, td, grid, index) {
      if (!row[F.account]) {
        var person = people.ownerOf(index);
        if (row[F.ptype] === "idc_user" || row[F.ptype] === "idc_group" || row[F.ptype] === "permission_set") {
          td.appendChild(document.createTextNode("Identity Center"));
          if (person) {
            var reach = person.accounts.length;
            append(td, [el("br"), el("span", "muted", "reaches " + reach + " account" + (reach === 1 ? "" : "s"))]);
          }
        } else {
          td.appendChild(el("span", "muted", "organisation-wide"));
        }
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
      fact(dl, "Principal", typeLabel(row[F.ptype]) + " " + row[F.pid] + (row[F.pname] ? " (" + row[F.pname] + ")" : ""));
      fact(dl, "Principal ARN", row[F.parn], true);
      fact(dl, "Resource", row[F.resource], true);
      fact(dl, "Controls", row[F.controls].join(", "));
      fact(dl, "First seen", row[F.first_seen]);
      fact(dl, "Resolved", row[F.resolved_at]);
      box.appendChild(dl);
      box.appendChild(el("h4", "", "Evidence"));
      var evidence = row[F.evidence];
      if (!Object.keys(evidence).length) {
        box.appendChild(el("p", "muted", "No evidence recorded."));
      } else {
        box.appendChild(evidenceNode(evidence));
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
      match: function (row, index) {
        if (personFilter && !personFilter[index]) {
          return false;
        }
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

    var apply = whileTyping(search, function () {
      Object.keys(selects).forEach(function (key) {
        wanted[key] = selects[key].value;
      });
      grid.filter(terms(search));
    });
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
    function setPerson(person) {
      personFilter = null;
      chip.hidden = !person;
      if (person) {
        personFilter = {};
        person.row[people.P.findings].forEach(function (index) {
          personFilter[index] = true;
        });
        chip.firstChild.textContent = "Findings of " + person.row[people.P.name];
      }
    }
    chip.querySelector("button").addEventListener("click", function () {
      setPerson(null);
      apply();
    });
    form.addEventListener("reset", function () {
      setPerson(null);
    });
    document.getElementById("f-export").addEventListener("click", function () {
      var iso = function (text) {
        return text ? text.replace(/^(\S+) (\S+) UTC$/, "$1T$2Z") : "";
      };
      download("findings-shown.csv", csvText(data.csv.columns, grid.shownRows().map(function (row) {
        return [row[F.id], row[F.rule], row[F.category], row[F.severity], row[F.status], row[F.ptype], row[F.pid],
          row[F.pname], row[F.parn], row[F.account], row[F.resource], row[F.title], row[F.controls].join("; "),
          JSON.stringify(row[F.evidence]), row[F.recommendation], iso(row[F.first_seen]), iso(row[F.resolved_at])];
      })));
    });
    form.hidden = false;
    apply();
    return {
      showPerson: function (person) {
        search.value = "";
        Object.keys(selects).forEach(function (key) {
          selects[key].value = "";
        });
        setPerson(person);
        apply();
        table.scrollIntoView();
      }
    };
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
      // names break only between words, account ids never; the rest (emails, lists) wherever they must
      var cellClass = source.columns.map(function (label, column) {
        return numeric[column] ? "num" : /account id/i.test(label) ? "nowrap" : /name|manager/i.test(label) ? "name" : "";
      });
      var columns = source.columns.map(function (_, column) {
        return {
          numeric: numeric[column],
          key: function (row) {
            var cell = row[column];
            return typeof cell === "number" ? cell : String(cell).toLowerCase();
          },
          render: function (row, td) {
            td.className = cellClass[column];
            td.textContent = String(row[column]);
          }
        };
      });
      var search = block.querySelector("input.g-search");
      if (source.total > source.rows.length) {
        block.insertBefore(
          el("p", "notice warn", "The first " + source.rows.length + " of " + source.total + " rows are in this page; each person's complete access is under People, and every record in the snapshot beside this page."),
          table
        );
      }
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
      block.querySelector("button.g-export").addEventListener("click", function () {
        download(block.getAttribute("data-table") + "-shown.csv", csvText(source.columns, grid.shownRows()));
      });
      search.addEventListener("input", debounced(function () {
        grid.filter(terms(search));
      }));
      block.querySelector("div.controls").hidden = false;
      grid.filter([]);
    });
  }

  peopleTable(findingsTable());
  inventoryTables();
})();
