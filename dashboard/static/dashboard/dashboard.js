/* The billing dashboard: one GraphQL document per filter change, rendered with charts.js.
 *
 * It reads nothing but /graphql/ (session cookie + X-CSRFToken header). The filters live in
 * the page's query string (?customer=&start=&end=), so a view can be bookmarked or shared.
 */
(function () {
  "use strict";

  var DOCUMENT = [
    "query Dashboard($filter: AnalyticsFilter!, $customerId: Int, $reportFilter: ReportFilter) {",
    "  customers(first: 100) { edges { node { id companyName } } }",
    "  analytics(filter: $filter) {",
    "    period { startDate endDate }",
    "    previousPeriod { startDate endDate }",
    "    monthly: series(bucket: MONTH) {",
    "      key { currency }",
    "      points { start end figures { billedAmount orderCount unbilledOrderCount } }",
    "    }",
    "    comparison {",
    "      key { currency }",
    "      current { billedAmount orderCount unbilledOrderCount }",
    "      change { billedAmount billedAmountPercent orderCountPercent }",
    "    }",
    "    services: top(by: SERVICE, limit: 10) { key { currency serviceName } figures { billedAmount } }",
    "    customers: top(by: CUSTOMER, limit: 10) { rank key { currency customerName } figures { billedAmount orderCount } }",
    "  }",
    "  reports(first: 5, filter: $reportFilter) { edges { node {",
    "    id status createdAt customer { companyName } period { startDate endDate } totals { totalAmount currency }",
    "  } } }",
    "  reportJobs(first: 5, customerId: $customerId) { edges { node {",
    "    id status createdAt customer { companyName } period { startDate endDate } error",
    "  } } }",
    "}",
  ].join("\n");

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var el = Charts.el;

  function byId(id) { return document.getElementById(id); }

  function isoDate(day) {
    return day.getFullYear() + "-" + String(day.getMonth() + 1).padStart(2, "0") + "-" + String(day.getDate()).padStart(2, "0");
  }

  /* Default range: the last twelve calendar months, this month included (whole months, which
   * the API answers from its per-month totals). */
  function defaultRange() {
    var today = new Date();
    return {
      start: isoDate(new Date(today.getFullYear(), today.getMonth() - 11, 1)),
      end: isoDate(new Date(today.getFullYear(), today.getMonth() + 1, 0)),
    };
  }

  function readFilters() {
    var params = new URLSearchParams(window.location.search);
    var range = defaultRange();
    return {
      customer: params.get("customer") || "",
      start: params.get("start") || range.start,
      end: params.get("end") || range.end,
    };
  }

  /* Exact decimal string with thousands separators, e.g. "12345.60" -> "12,345.60". */
  function money(amount, currency) {
    var parts = String(amount).split(".");
    var sign = parts[0].charAt(0) === "-" ? "-" : "";
    var whole = parts[0].replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + whole + (parts[1] ? "." + parts[1] : "") + " " + currency;
  }

  function monthLabel(isoDay) {
    return MONTHS[Number(isoDay.slice(5, 7)) - 1] + " " + isoDay.slice(0, 4);
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : document.querySelector('meta[name="csrf-token"]').content;
  }

  function query(variables) {
    return window.fetch("/graphql/", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ query: DOCUMENT, variables: variables }),
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok || body.errors) {
          var message = body.errors ? body.errors.map(function (e) { return e.message; }).join(" ") : response.statusText;
          throw new Error(message);
        }
        return body.data;
      });
    });
  }

  function replace(container, nodes) {
    container.replaceChildren.apply(container, nodes.length ? nodes : [el("p", { class: "empty" }, "Nothing billed in this range.")]);
  }

  function table(headers, rows, caption) {
    if (!rows.length) return el("p", { class: "empty" }, "None yet.");
    return Charts.table(caption, headers, rows);
  }

  function renderCustomers(data, selected) {
    var select = byId("customer");
    var options = [el("option", { value: "" }, "All customers")];
    data.customers.edges.forEach(function (edge) {
      var option = el("option", { value: String(edge.node.id) }, edge.node.companyName);
      if (String(edge.node.id) === selected) option.selected = true;
      options.push(option);
    });
    select.replaceChildren.apply(select, options);
  }

  function renderSummary(analytics) {
    byId("summary-period").textContent =
      analytics.period.startDate + " to " + analytics.period.endDate +
      ", against " + analytics.previousPeriod.startDate + " to " + analytics.previousPeriod.endDate + ".";
    replace(byId("summary"), analytics.comparison.map(function (row) {
      var card = el("div", { class: "card" });
      card.appendChild(el("div", {}, "Billed (" + row.key.currency + ")"));
      card.appendChild(el("div", { class: "figure" }, money(row.current.billedAmount, row.key.currency)));
      var percent = row.change.billedAmountPercent;
      var trend = percent === null ? "no previous amount" : (Number(percent) >= 0 ? "+" : "") + percent + "% on the previous period";
      card.appendChild(el("div", { class: percent === null ? "" : Number(percent) >= 0 ? "up" : "down" }, trend));
      card.appendChild(el("div", {}, row.current.orderCount + " orders billed, " + row.current.unbilledOrderCount + " unbilled"));
      return card;
    }));
  }

  function renderBilled(analytics) {
    replace(byId("billed-chart"), analytics.monthly.map(function (series) {
      var currency = series.key.currency;
      return Charts.bars({
        caption: currency,
        label: "Billed per month in " + currency,
        categoryHeader: "Month",
        categories: series.points.map(function (p) { return monthLabel(p.start); }),
        series: [{
          name: "Billed (" + currency + ")",
          values: series.points.map(function (p) { return Number(p.figures.billedAmount); }),
          texts: series.points.map(function (p) { return money(p.figures.billedAmount, currency); }),
        }],
      });
    }));
  }

  function renderServices(analytics) {
    var byCurrency = {};
    analytics.services.forEach(function (entry) {
      (byCurrency[entry.key.currency] = byCurrency[entry.key.currency] || []).push(entry);
    });
    replace(byId("services-chart"), Object.keys(byCurrency).sort().map(function (currency) {
      return Charts.hbars({
        caption: currency,
        label: "Billed per service in " + currency,
        categoryHeader: "Service",
        valueHeader: "Billed",
        items: byCurrency[currency].map(function (entry) {
          return { name: entry.key.serviceName, value: Number(entry.figures.billedAmount), text: money(entry.figures.billedAmount, currency) };
        }),
      });
    }));
  }

  function renderOrders(analytics) {
    // Orders are counts, so the currencies' series add up month by month.
    var months = [], billed = {}, unbilled = {};
    analytics.monthly.forEach(function (series) {
      series.points.forEach(function (p) {
        if (!(p.start in billed)) { months.push(p.start); billed[p.start] = 0; unbilled[p.start] = 0; }
        billed[p.start] += p.figures.orderCount;
        unbilled[p.start] += p.figures.unbilledOrderCount;
      });
    });
    months.sort();
    if (!months.length) return replace(byId("orders-chart"), []);
    replace(byId("orders-chart"), [Charts.bars({
      caption: "Orders",
      label: "Billed and unbilled orders per month",
      categoryHeader: "Month",
      categories: months.map(monthLabel),
      series: [
        { name: "Billed orders", values: months.map(function (m) { return billed[m]; }), texts: months.map(function (m) { return String(billed[m]); }) },
        { name: "Unbilled orders", values: months.map(function (m) { return unbilled[m]; }), texts: months.map(function (m) { return String(unbilled[m]); }) },
      ],
    })]);
  }

  function renderTables(data) {
    var customers = data.analytics.customers.map(function (entry) {
      return [entry.key.customerName, entry.key.currency + " #" + entry.rank, money(entry.figures.billedAmount, entry.key.currency), String(entry.figures.orderCount)];
    });
    replace(byId("customers-table"), [table(["Customer", "Rank", "Billed", "Orders"], customers, "Top customers by billed amount, per currency")]);
    var reports = data.reports.edges.map(function (edge) {
      var r = edge.node;
      return [r.customer.companyName, r.period.startDate + " to " + r.period.endDate, r.status.toLowerCase(), money(r.totals.totalAmount, r.totals.currency), r.createdAt.slice(0, 16).replace("T", " ")];
    });
    replace(byId("reports-table"), [table(["Customer", "Period", "Status", "Total", "Created (UTC)"], reports, "The five newest reports")]);
    var jobs = data.reportJobs.edges.map(function (edge) {
      var j = edge.node;
      return [j.customer.companyName, j.period.startDate + " to " + j.period.endDate, j.status.toLowerCase() + (j.error ? ": " + j.error : ""), j.createdAt.slice(0, 16).replace("T", " ")];
    });
    replace(byId("jobs-table"), [table(["Customer", "Period", "Status", "Created (UTC)"], jobs, "The five newest background jobs")]);
  }

  function load() {
    var filters = readFilters();
    byId("start").value = filters.start;
    byId("end").value = filters.end;
    var customerId = filters.customer ? Number(filters.customer) : null;
    var status = byId("status");
    status.className = "status";
    status.textContent = "Loading…";
    return query({
      filter: { startDate: filters.start, endDate: filters.end, customerId: customerId },
      customerId: customerId,
      reportFilter: { customerId: customerId },
    }).then(function (data) {
      renderCustomers(data, filters.customer);
      renderSummary(data.analytics);
      renderBilled(data.analytics);
      renderServices(data.analytics);
      renderOrders(data.analytics);
      renderTables(data);
      status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      document.body.setAttribute("data-loaded", "true");
    }).catch(function (error) {
      status.className = "status error";
      status.textContent = "Could not load the dashboard: " + error.message;
      document.body.setAttribute("data-loaded", "error");
    });
  }

  byId("filters").addEventListener("submit", function (event) {
    event.preventDefault();
    var params = new URLSearchParams();
    if (byId("customer").value) params.set("customer", byId("customer").value);
    params.set("start", byId("start").value);
    params.set("end", byId("end").value);
    window.history.pushState(null, "", "?" + params.toString());
    load();
  });
  window.addEventListener("popstate", load);
  load();
})();
