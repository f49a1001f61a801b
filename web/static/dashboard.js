// Every value from the API is placed with textContent (never parsed as HTML), so
// product names and other user text are always shown as text.
"use strict";

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

async function refreshReady() {
  const el = document.getElementById("ready");
  try {
    const r = await fetch("/readyz");
    const body = await r.json();
    el.textContent = body.status;
    el.className = r.ok ? "ok" : "bad";
  } catch (e) {
    el.textContent = "unreachable";
    el.className = "bad";
  }
}

async function refreshProducts() {
  const tbody = document.getElementById("products");
  try {
    const r = await fetch("/v1/products?limit=100");
    const page = await r.json();
    tbody.replaceChildren();
    for (const p of page.items || []) {
      const tr = document.createElement("tr");
      cell(tr, p.sku);
      cell(tr, p.name);
      cell(tr, p.category);
      cell(tr, p.base_price.toLocaleString(), "n");
      cell(tr, p.price_floor.toLocaleString(), "n");
      cell(tr, p.price_ceiling.toLocaleString(), "n");
      tbody.appendChild(tr);
    }
    if (!tbody.children.length) {
      const tr = document.createElement("tr");
      cell(tr, "no products yet");
      tbody.appendChild(tr);
    }
  } catch (e) {
    tbody.replaceChildren();
  }
}

async function refreshAlerts() {
  const tbody = document.getElementById("alerts");
  try {
    const r = await fetch("/v1/alerts?limit=1000");
    const page = await r.json();
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
    if (!items.length) {
      const tr = document.createElement("tr");
      cell(tr, "no alerts");
      tbody.appendChild(tr);
    }
  } catch (e) {
    tbody.replaceChildren();
  }
}

function tick() {
  refreshReady();
  refreshProducts();
  refreshAlerts();
}
tick();
setInterval(tick, 2000);
