// Every value from the API is placed with textContent (never parsed as HTML), so
// product names and other user text are always shown as text.
"use strict";

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function emptyRow(tbody, text) {
  const tr = document.createElement("tr");
  cell(tr, text);
  tbody.appendChild(tr);
}

async function getJSON(path) {
  const r = await fetch(path);
  return { ok: r.ok, body: await r.json() };
}

async function refreshReady() {
  const el = document.getElementById("ready");
  try {
    const { ok, body } = await getJSON("/readyz");
    el.textContent = body.status;
    el.className = ok ? "ok" : "bad";
  } catch (e) {
    el.textContent = "unreachable";
    el.className = "bad";
  }
}

async function refreshProducts() {
  const tbody = document.getElementById("products");
  try {
    const { body: page } = await getJSON("/v1/products?limit=25");
    const rows = await Promise.all((page.items || []).map(async (p) => {
      const [price, stock] = await Promise.all([
        getJSON("/v1/prices/" + encodeURIComponent(p.sku)).then((r) => r.body).catch(() => null),
        getJSON("/v1/inventory/" + encodeURIComponent(p.sku)).then((r) => r.body).catch(() => null),
      ]);
      return { p, price, stock };
    }));
    tbody.replaceChildren();
    for (const { p, price, stock } of rows) {
      const tr = document.createElement("tr");
      cell(tr, p.sku);
      cell(tr, p.name);
      cell(tr, p.category);
      const now = price ? price.price : p.base_price;
      cell(tr, now.toLocaleString(), "n " + (now > p.base_price ? "up" : now < p.base_price ? "down" : ""));
      cell(tr, p.base_price.toLocaleString(), "n");
      let why = "";
      if (price && price.reason && price.reason.rule_id !== "base_price") {
        why = "demand ×" + price.reason.demand_ratio.toFixed(2);
        if (price.reason.clipped_by) why += ", clipped by " + price.reason.clipped_by;
      }
      cell(tr, why);
      cell(tr, stock ? String(stock.available) : "", "n");
      cell(tr, stock ? String(stock.on_order) : "", "n");
      if (stock && stock.available < stock.low_stock_threshold) tr.className = "low";
      tbody.appendChild(tr);
    }
    if (!rows.length) emptyRow(tbody, "no products yet");
  } catch (e) {
    tbody.replaceChildren();
  }
}

async function refreshPurchaseOrders() {
  const tbody = document.getElementById("pos");
  try {
    const { body } = await getJSON("/v1/purchase-orders?limit=15");
    tbody.replaceChildren();
    for (const po of body.items || []) {
      const tr = document.createElement("tr");
      cell(tr, new Date(po.created_at).toLocaleString());
      cell(tr, po.sku);
      cell(tr, String(po.quantity), "n");
      cell(tr, po.status + (po.urgent ? " (urgent)" : ""));
      cell(tr, po.supplier);
      cell(tr, new Date(po.expected_at).toLocaleString());
      tbody.appendChild(tr);
    }
    if (!(body.items || []).length) emptyRow(tbody, "no purchase orders");
  } catch (e) {
    tbody.replaceChildren();
  }
}

async function refreshAlerts() {
  const tbody = document.getElementById("alerts");
  try {
    const { body: page } = await getJSON("/v1/alerts?limit=1000");
    const items = (page.items || []).slice(-20).reverse();
    tbody.replaceChildren();
    for (const a of items) {
      const tr = document.createElement("tr");
      tr.className = "low";
      cell(tr, new Date(a.at).toLocaleString());
      cell(tr, a.type);
      cell(tr, a.sku);
      cell(tr, String(a.available), "n");
      cell(tr, String(a.threshold), "n");
      tbody.appendChild(tr);
    }
    if (!items.length) emptyRow(tbody, "no alerts");
  } catch (e) {
    tbody.replaceChildren();
  }
}

function link(row, href, text) {
  const td = document.createElement("td");
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  td.appendChild(a);
  row.appendChild(td);
}

async function refreshReports() {
  const tbody = document.getElementById("reports");
  try {
    const { ok, body: page } = await getJSON("/v1/reports/sales/runs?limit=10");
    tbody.replaceChildren();
    const items = ok ? page.items || [] : [];
    for (const r of items) {
      const tr = document.createElement("tr");
      const day = r.from === r.to ? r.from : r.from + "_" + r.to;
      cell(tr, day);
      cell(tr, r.status, r.status === "failed" ? "bad" : "");
      cell(tr, r.engine);
      cell(tr, r.trigger);
      cell(tr, (r.duration_ms / 1000).toFixed(2), "n");
      const rows = (r.inputs || []).filter((i) => i.table === "sales").reduce((n, i) => n + i.rows, 0);
      cell(tr, String(rows), "n");
      cell(tr, r.stale ? "stale" : "");
      if (r.status === "succeeded") {
        link(tr, "/v1/reports/sales/" + encodeURIComponent(day) + ".html", "charts");
      } else {
        cell(tr, r.error || "");
      }
      tbody.appendChild(tr);
    }
    if (!items.length) emptyRow(tbody, "no report runs yet (the reports role runs at 00:10, or POST /v1/reports/sales/runs)");
  } catch (e) {
    tbody.replaceChildren();
  }
}

function tick() {
  refreshReady();
  refreshProducts();
  refreshPurchaseOrders();
  refreshAlerts();
}
tick();
setInterval(tick, 2000);
refreshReports();
setInterval(refreshReports, 30000);
