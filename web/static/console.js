// Mercato console: one page, one live event stream per tab, views over the
// JSON API. Every value from the API is placed as text (textContent or text
// nodes through h()), never parsed as HTML, so user text (product names,
// reviews) cannot run as code; the page's CSP forbids inline script anyway.
"use strict";

// ---------------------------------------------------------------- helpers

// h builds an element. Strings and numbers among children become text nodes.
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const TOKEN_KEY = "mercato.adminToken";
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, opts = {}) {
  const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
  if (token()) headers.Authorization = "Bearer " + token();
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method: opts.method || "GET",
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    cache: "no-store",
  });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const err = (body && body.error) || {};
    throw new APIError(r.status, err.code || "http_" + r.status, err.message || r.statusText);
  }
  return body;
}

const won = new Intl.NumberFormat("ko-KR", { style: "currency", currency: "KRW", maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const wonAxis = (v) => "₩" + compact.format(v);
const money = (v) => (v === undefined || v === null ? "–" : won.format(v));
const num = (v) => (v === undefined || v === null ? "–" : Number(v).toLocaleString());
const pct = (v, d = 1) => (v === undefined || v === null ? "–" : (v * 100).toFixed(d) + " %");
const clock = (t) => (t ? new Date(t).toLocaleTimeString() : "–");
const stamp = (t) => (t ? new Date(t).toLocaleString() : "–");
// shortStamp is the time alone for today (the date otherwise), for narrow
// columns; the cell's title keeps the full timestamp.
const shortStamp = (t) => {
  if (!t) return "–";
  const d = new Date(t);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleDateString();
};
const qs = (o) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
};

function errorBox(err) {
  const msg = err instanceof APIError ? err.message + " (" + err.code + ")" : String(err && err.message ? err.message : err);
  return h("div", { class: "error", role: "alert" }, msg);
}

function needToken(what) {
  return h("div", { class: "notice" }, what + " needs the admin token: enter it at the top right. It is kept in this tab's session storage only.");
}

// debounce runs fn once calls stop for ms.
function debounce(fn, ms) {
  let t = 0;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// throttle runs fn at most once per ms, the last call winning.
function throttle(fn, ms) {
  let t = 0, pending = false;
  return () => {
    if (t) { pending = true; return; }
    fn();
    t = setTimeout(function again() {
      t = 0;
      if (pending) { pending = false; fn(); t = setTimeout(again, ms); }
    }, ms);
  };
}

// spark draws a small line of values on a canvas.
function spark(values, w = 110, hgt = 26) {
  const c = h("canvas", { width: w, height: hgt, class: "spark", "aria-hidden": "true" });
  const v = (values || []).filter((x) => typeof x === "number" && isFinite(x));
  if (v.length < 2) return c;
  const ctx = c.getContext("2d");
  const lo = Math.min(...v), hi = Math.max(...v), span = hi - lo || 1;
  ctx.strokeStyle = v[v.length - 1] >= v[0] ? "#0f8a4a" : "#c2410c";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  v.forEach((x, i) => {
    const px = (i / (v.length - 1)) * (w - 2) + 1;
    const py = hgt - 2 - ((x - lo) / span) * (hgt - 4);
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  });
  ctx.stroke();
  return c;
}

// chart draws a uPlot time series into el. series: [{label, stroke, fill, values}].
function chart(el, xs, series, opts = {}) {
  el.replaceChildren();
  const width = Math.max(280, el.clientWidth || 600);
  const u = new uPlot({
    width,
    height: opts.height || 220,
    cursor: { drag: { x: false, y: false } },
    // One point alone gets a day either side, not an axis of years.
    scales: {
      x: xs.length === 1 ? { time: opts.time !== false, range: [xs[0] - 86400, xs[0] + 86400] } : { time: opts.time !== false },
      y: opts.yrange ? { range: opts.yrange } : {},
    },
    axes: [{}, { size: 70, values: opts.axisfmt || opts.yfmt ? (u, vals) => vals.map(opts.axisfmt || opts.yfmt) : undefined }].concat(
      // A series on its own scale ("r") gets an axis on the right.
      series.some((s) => s.scale === "r") ? [{ scale: "r", side: 1, size: 70, grid: { show: false } }] : []),
    series: [{}].concat(series.map((s) => ({
      label: s.label,
      scale: s.scale || "y",
      stroke: s.stroke || "#2e6bd9",
      fill: s.fill,
      width: 2,
      paths: s.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : (s.steps ? uPlot.paths.stepped({ align: 1 }) : undefined),
      points: { show: s.points || false },
      value: opts.yfmt ? (u, v) => (v === null || v === undefined ? "–" : opts.yfmt(v)) : undefined,
    }))),
    hooks: opts.hooks || {},
  }, [xs].concat(series.map((s) => s.values)), el);
  return u;
}

// ----------------------------------------------------------- live stream

// live is the tab's one event stream: GET /v1/events/stream read with
// fetch (so the admin token can travel in a header), parsed as SSE, resumed
// with Last-Event-ID after any break. It is sampled (LIVE_SAMPLE events of
// each type every ¼ s at most): when a busy shop sends more, the server
// counts the rest in a "skipped" event, which reaches the views as
// {type, skipped: n}, and the views reload what they show instead.
const PUBLIC_TOPICS = ["prices", "inventory", "alerts", "purchase-orders", "reviews", "pricing-rules", "products"];
const ADMIN_TOPICS = ["orders", "payments"];
const LIVE_SAMPLE = 10;

const live = {
  lastId: "",
  seen: new Set(), // envelope ids already dispatched
  listeners: new Set(),
  ctrl: null,
  retry: 2000,
  forbidden: false,
  received: 0,
  skipped: 0,
  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); },
  emit(ev) { for (const fn of [...this.listeners]) { try { fn(ev); } catch (e) { console.warn("listener", e); } } },
  topics() { return token() && !this.forbidden ? PUBLIC_TOPICS.concat(ADMIN_TOPICS) : PUBLIC_TOPICS; },
  restart() { this.forbidden = false; if (this.ctrl) this.ctrl.abort(); },
};

function setPill(id, cls, text) {
  const el = document.getElementById(id);
  el.className = "pill " + cls;
  el.textContent = text;
}

async function runLive() {
  for (;;) {
    const ctrl = new AbortController();
    live.ctrl = ctrl;
    try {
      const headers = { Accept: "text/event-stream" };
      if (token() && !live.forbidden) headers.Authorization = "Bearer " + token();
      if (live.lastId) headers["Last-Event-ID"] = live.lastId;
      const r = await fetch("/v1/events/stream" + qs({ topics: live.topics().join(","), sample: LIVE_SAMPLE }), { headers, signal: ctrl.signal, cache: "no-store" });
      if (r.status === 401 || r.status === 403) {
        live.forbidden = true; // a wrong token: carry on with the public topics
        continue;
      }
      if (!r.ok || !r.body) throw new Error("stream answered " + r.status);
      setPill("live", "ok", "live");
      await readSSE(r.body, ctrl.signal);
    } catch (e) {
      if (!ctrl.signal.aborted) console.info("event stream closed:", e && e.message);
    }
    if (ctrl.signal.aborted) continue; // restarted on purpose (token changed)
    setPill("live", "wait", "reconnecting…");
    await new Promise((res) => setTimeout(res, live.retry));
  }
}

async function readSSE(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
  let buf = "";
  let ev = { id: null, event: "", data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      let line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        dispatch(ev);
        ev = { id: null, event: "", data: [] };
        continue;
      }
      if (line.startsWith(":")) continue; // heartbeat
      const c = line.indexOf(":");
      const field = c < 0 ? line : line.slice(0, c);
      const val = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
      if (field === "data") ev.data.push(val);
      else if (field === "id") ev.id = val;
      else if (field === "event") ev.event = val;
      else if (field === "retry" && /^\d+$/.test(val)) live.retry = Number(val);
    }
  }
}

function dispatch(ev) {
  if (ev.id !== null) live.lastId = ev.id;
  if (ev.event === "reset") {
    // The server could not replay the gap: views reload what they show.
    live.emit({ type: "reset" });
    return;
  }
  if (!ev.data.length) return;
  if (ev.event === "skipped") {
    let counts;
    try { counts = JSON.parse(ev.data.join("\n")); } catch (e) { return; }
    for (const [type, n] of Object.entries(counts || {})) {
      if (typeof n !== "number") continue;
      live.skipped += n;
      live.emit({ type, skipped: n });
    }
    return;
  }
  let env;
  try { env = JSON.parse(ev.data.join("\n")); } catch (e) { return; }
  // A stream cut off in the middle of a write resumes from the write
  // before: its events can come twice, and are skipped by envelope id.
  if (env.id) {
    if (live.seen.has(env.id)) return;
    live.seen.add(env.id);
    if (live.seen.size > 20000) live.seen = new Set([...live.seen].slice(-10000));
  }
  live.received++;
  live.emit(env);
}

// ------------------------------------------------------------ readiness

async function refreshReady() {
  try {
    const r = await fetch("/readyz", { cache: "no-store" });
    const b = await r.json();
    setPill("ready", r.ok ? "ok" : "bad", r.ok ? "ready" : "not ready: " + (b.status || r.status));
  } catch (e) {
    setPill("ready", "bad", "unreachable");
  }
}

// ----------------------------------------------------------------- router

const views = {};
let cleanup = [];

function route() {
  const hash = location.hash.replace(/^#\/?/, "") || "overview";
  const [pathPart, query] = hash.split("?");
  const parts = pathPart.split("/").map(decodeURIComponent);
  const name = views[parts[0]] ? parts[0] : "overview";
  for (const fn of cleanup) fn();
  cleanup = [];
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("on", a.dataset.view === name);
  const main = document.getElementById("view");
  main.replaceChildren();
  const ctx = {
    main,
    arg: parts[1],
    params: new URLSearchParams(query || ""),
    on: (fn) => cleanup.push(live.on(fn)),
    every: (ms, fn) => { const t = setInterval(fn, ms); cleanup.push(() => clearInterval(t)); },
    onCleanup: (fn) => cleanup.push(fn),
  };
  document.title = "Mercato · " + name;
  Promise.resolve(views[name](ctx)).catch((e) => main.append(errorBox(e)));
}

// setHashQuery changes the view's query without adding a history entry per keystroke.
function setHashQuery(view, params) {
  const q = qs(params);
  history.replaceState(null, "", "#/" + view + q);
}

// --------------------------------------------------------------- overview

views.overview = async (ctx) => {
  ctx.main.append(h("h1", {}, "Overview"));
  const cards = h("div", { class: "cards" });
  const chartEl = h("div", { class: "chart" });
  const feed = h("ul", { class: "feed", id: "activity" });
  const lagBox = h("div");
  ctx.main.append(
    cards,
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", {}, "Orders and revenue per minute (last hour)"), chartEl, lagBox),
      h("div", { class: "panel" }, h("h2", {}, "Live activity"), feed)),
  );

  let ov = null;
  const card = (k, v, s, series) => h("div", { class: "card" }, h("div", { class: "k" }, k), h("div", { class: "v" }, v), s ? h("div", { class: "s" }, s) : null, series ? spark(series, 160, 28) : null);

  async function load() {
    if (!token()) {
      cards.replaceChildren(needToken("Orders, revenue and margin"));
      chartEl.replaceChildren(h("p", { class: "muted" }, "The chart of orders and revenue appears with the admin token."));
      return;
    }
    try {
      ov = await api("/v1/overview");
    } catch (e) {
      cards.replaceChildren(errorBox(e));
      return;
    }
    draw();
  }

  function draw() {
    const pm = ov.per_minute || [];
    const orders = pm.map((m) => m.orders), revenue = pm.map((m) => m.revenue);
    const lastHour = orders.reduce((a, b) => a + b, 0);
    const lag = (ov.consumer_lag || []).reduce((a, g) => Math.max(a, g.lag), 0);
    cards.replaceChildren(
      card("Orders / min", num(Math.round(lastHour / Math.max(1, pm.length))), num(lastHour) + " in the last hour", orders),
      card("Orders today (" + (ov.day || "") + " KST)", num(ov.orders_today), null, null),
      card("Revenue today", money(ov.revenue_today), null, revenue),
      card("Gross margin today", ov.gross_margin_today === null || ov.gross_margin_today === undefined ? "–" : pct(ov.gross_margin_today), "cost " + money(ov.cost_today)),
      card("Payment failures", pct(ov.payment_failure_rate), num(ov.payments_failed_today) + " today"),
      card("Out-of-stock refusals", num(ov.out_of_stock_refusals_today), "today"),
      card("Outbox backlog", num(ov.outbox_backlog), "events not yet on Kafka"),
      card("Consumer lag", num(lag), "largest of " + (ov.consumer_lag || []).length + " groups"),
    );
    const xs = pm.map((m) => Date.parse(m.minute) / 1000);
    chart(chartEl, xs, [
      { label: "orders", stroke: "#2e6bd9", values: orders },
      { label: "revenue (₩k)", stroke: "#0f8a4a", scale: "r", values: revenue.map((v) => Math.round(v / 1000)) },
    ]);
    lagBox.replaceChildren(
      h("h2", {}, "Consumer lag by group"),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "group"), h("th", { class: "n" }, "lag"))),
        h("tbody", {}, (ov.consumer_lag || []).map((g) => h("tr", {}, h("td", {}, g.group), h("td", { class: "n" + (g.lag > 1000 ? " warn" : "") }, num(g.lag)))))),
    );
  }

  const reload = throttle(load, 3000);
  ctx.on((ev) => {
    if (ev.type === "reset") { reload(); return; }
    const li = h("li", {}, h("span", { class: "t" }, clock(ev.time || Date.now())), h("span", { class: "tag " + (ev.type || "").split(".").pop() }, ev.type), " ",
      ev.skipped ? h("span", { class: "muted" }, "+" + num(ev.skipped) + " more") : ev.subject || "");
    feed.prepend(li);
    while (feed.childElementCount > 60) feed.lastElementChild.remove();
    if (ev.type && (ev.type.startsWith("order.") || ev.type.startsWith("payment."))) reload();
  });
  ctx.every(30000, load);
  await load();
};

// ----------------------------------------------------------------- prices

function whyText(p) {
  return p.why || (p.reason && p.reason.rule_id === "base_price" ? "base price: not priced yet" : "");
}

function priceCells(tr, p) {
  const delta = p.base_price ? (p.price - p.base_price) / p.base_price : 0;
  const cls = delta > 0.0005 ? "up" : delta < -0.0005 ? "down" : "";
  const low = p.threshold && p.available <= p.threshold;
  tr.replaceChildren(
    h("td", {}, h("a", { href: "#/prices/" + encodeURIComponent(p.sku) }, p.sku)),
    h("td", { class: "nowrap" }, p.name),
    h("td", {}, p.category),
    h("td", { class: "n " + cls }, money(p.price)),
    h("td", { class: "n muted" }, money(p.base_price)),
    h("td", { class: "n " + cls }, (delta >= 0 ? "+" : "") + (delta * 100).toFixed(1) + " %"),
    h("td", {}, spark((p.recent || []).map((r) => r.price))),
    h("td", { class: "why" }, whyText(p)),
    h("td", { class: "n" + (low ? " bad" : "") }, num(p.available) + (p.threshold ? " / " + num(p.threshold) : "")),
  );
}

// pagedTable keeps a cursor stack so a page can go back as well as on.
function pager(onMove) {
  const stack = [""];
  const prev = h("button", { type: "button", disabled: true, onclick: () => { stack.pop(); onMove(stack[stack.length - 1]); } }, "← newer");
  const next = h("button", { type: "button", disabled: true }, "older →");
  const label = h("span", { class: "muted" });
  let nextCursor = "";
  next.addEventListener("click", () => { stack.push(nextCursor); onMove(nextCursor); });
  return {
    el: h("div", { class: "pager" }, prev, label, next),
    cursor: () => stack[stack.length - 1],
    first: () => stack.length === 1,
    reset() { stack.length = 1; },
    update(nc, count) {
      nextCursor = nc || "";
      prev.disabled = stack.length === 1;
      next.disabled = !nextCursor;
      label.textContent = "page " + stack.length + (count !== undefined ? " · " + count + " shown" : "");
    },
    setLabels(a, b) { prev.textContent = a; next.textContent = b; },
  };
}

views.prices = async (ctx) => {
  if (ctx.arg) return priceDetail(ctx, ctx.arg);
  ctx.main.append(h("h1", {}, "Prices"));
  const q = h("input", { type: "search", placeholder: "search SKU or name", value: ctx.params.get("q") || "", "aria-label": "search prices" });
  const cat = h("select", { "aria-label": "category" }, h("option", { value: "" }, "all categories"));
  const tbody = h("tbody", { id: "prices" });
  const pg = pager(() => load());
  pg.setLabels("← previous", "next →");
  ctx.main.append(
    h("div", { class: "toolbar" }, q, cat, h("span", { class: "grow" }), h("span", { class: "muted" }, "live: rows change as prices move")),
    h("table", {},
      h("thead", {}, h("tr", {}, ["SKU", "Name", "Category"].map((t) => h("th", {}, t)), h("th", { class: "n" }, "Price"), h("th", { class: "n" }, "Base"), h("th", { class: "n" }, "vs base"), h("th", {}, "Recent"), h("th", {}, "Why"), h("th", { class: "n" }, "Available / threshold"))),
      tbody),
    pg.el,
  );

  try {
    const rules = await api("/v1/pricing/rules");
    for (const r of rules.items || []) if (r.category && r.category !== "default") cat.append(h("option", { value: r.category }, r.category));
  } catch (e) { /* categories are a convenience */ }
  cat.value = ctx.params.get("category") || "";

  const rows = new Map();
  async function load() {
    setHashQuery("prices", { q: q.value.trim(), category: cat.value });
    let page;
    try {
      page = await api("/v1/prices" + qs({ q: q.value.trim(), category: cat.value, limit: 25, cursor: pg.cursor() }));
    } catch (e) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 9 }, errorBox(e))));
      return;
    }
    // The price book behind /v1/prices can trail the stream: a row keeps
    // the price an event already brought when the API's is older.
    const before = new Map(rows);
    rows.clear();
    tbody.replaceChildren();
    for (const p of page.items || []) {
      const seen = before.get(p.sku);
      if (seen && seen.p.event_at && (Date.parse(p.updated_at) || 0) < seen.p.event_at) {
        Object.assign(p, { price: seen.p.price, event_at: seen.p.event_at, recent: seen.p.recent, why: seen.p.why, reason: seen.p.reason });
      }
      const tr = h("tr", { "data-sku": p.sku });
      priceCells(tr, p);
      rows.set(p.sku, { tr, p });
      tbody.append(tr);
    }
    if (!rows.size) tbody.append(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "no products match")));
    pg.update(page.next_cursor, rows.size);
  }
  const refilter = () => { pg.reset(); load(); };
  q.addEventListener("input", debounce(refilter, 250));
  cat.addEventListener("change", refilter);

  // A price change updates its row at once from the event, then asks for
  // the row's written reason (at most once a second per SKU). The stream can
  // be ahead of the api's price book: an answer older than the event is not
  // shown, and is asked again (a few times) a second later.
  const pending = new Map(); // sku -> tries left
  const fetchWhy = throttle(async () => {
    const skus = [...pending];
    pending.clear();
    for (const [sku, tries] of skus) {
      const row = rows.get(sku);
      if (!row) continue;
      try {
        const cur = await api("/v1/prices/" + encodeURIComponent(sku));
        if (row.p.event_at && Date.parse(cur.updated_at) < row.p.event_at) {
          if (tries > 1) { pending.set(sku, tries - 1); fetchWhy(); }
          continue;
        }
        Object.assign(row.p, { price: cur.price, why: cur.why, reason: cur.reason });
        priceCells(row.tr, row.p);
      } catch (e) { /* the row keeps the event's price */ }
    }
  }, 1000);
  const reloadPage = throttle(load, 2000);
  ctx.on((ev) => {
    if (ev.type === "reset") { load(); return; }
    // Changes the sample left out may be on this page: read it again.
    if (ev.skipped && (ev.type === "price.changed" || ev.type.startsWith("inventory."))) { reloadPage(); return; }
    if (ev.type === "price.changed" && ev.data && rows.has(ev.data.sku)) {
      const row = rows.get(ev.data.sku);
      row.p.price = ev.data.price;
      row.p.event_at = Date.parse(ev.data.updated_at || ev.time) || 0;
      row.p.recent = (row.p.recent || []).concat([{ at: ev.data.updated_at || ev.time, price: ev.data.price }]).slice(-24);
      priceCells(row.tr, row.p);
      row.tr.classList.remove("flash");
      void row.tr.offsetWidth;
      row.tr.classList.add("flash");
      pending.set(ev.data.sku, 5);
      fetchWhy();
    }
    if (ev.type && ev.type.startsWith("inventory.") && ev.type !== "inventory.alert" && ev.data && rows.has(ev.data.sku) && typeof ev.data.available === "number") {
      const row = rows.get(ev.data.sku);
      row.p.available = ev.data.available;
      priceCells(row.tr, row.p);
    }
  });
  await load();
};

async function priceDetail(ctx, sku) {
  ctx.main.append(h("p", {}, h("a", { href: "#/prices" }, "← all prices")));
  const head = h("div", { class: "panel" });
  const chartEl = h("div", { class: "chart" });
  const hover = h("div", { class: "hover muted" }, "Hover the chart to read why each change happened.");
  const tbody = h("tbody");
  ctx.main.append(
    h("h1", {}, sku),
    head,
    h("div", { class: "panel" }, h("h2", {}, "Price history"), chartEl, hover),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "At"), h("th", { class: "n" }, "Price"), h("th", {}, "Why"))), tbody),
  );
  let product = null, cur = null, hist = [];
  async function load() {
    try {
      [product, cur] = await Promise.all([api("/v1/products/" + encodeURIComponent(sku)), api("/v1/prices/" + encodeURIComponent(sku))]);
      const h2 = await api("/v1/prices/" + encodeURIComponent(sku) + "/history?limit=200");
      hist = (h2.items || []).slice().reverse();
    } catch (e) {
      head.replaceChildren(errorBox(e));
      return;
    }
    draw();
  }
  function draw() {
    // The learn policy's demand model, when it priced this SKU.
    const ln = cur.reason && cur.reason.learn;
    // A change on the way to an earlier decision's target carries no new
    // demand forecast (0): it is left out rather than shown as none.
    const est = cur.demand_estimate || (ln ? Object.assign({
      "elasticity": ln.elasticity.toFixed(2) + " ± " + ln.elasticity_sd.toFixed(2),
    }, ln.expected_units_per_hour_new > 0 ? { "expected units/h": ln.expected_units_per_hour_new.toFixed(2) } : {}, {
      "evidence (units)": ln.evidence_units,
    }) : null);
    head.replaceChildren(
      h("dl", { class: "kv" },
        h("dt", {}, "name"), h("dd", {}, product.name),
        h("dt", {}, "category"), h("dd", {}, product.category),
        h("dt", {}, "price now"), h("dd", {}, money(cur.price)),
        h("dt", {}, "base price"), h("dd", {}, money(product.base_price)),
        h("dt", {}, "why"), h("dd", {}, whyText(cur) || "–"),
        est ? [h("dt", {}, "learned demand"), h("dd", {}, typeof est === "object" ? Object.entries(est).map(([k, v]) => k + " " + (typeof v === "number" ? +v.toFixed(3) : v)).join(" · ") : String(est))] : null,
      ),
    );
    // The last price holds until now: the line runs on to the right edge.
    const pts = hist.concat(hist.length ? [{ updated_at: new Date().toISOString(), price: cur.price, why: "now", now: true }] : []);
    const xs = pts.map((r) => Date.parse(r.updated_at) / 1000);
    if (hist.length) {
      chart(chartEl, xs, [
        { label: "price", stroke: "#2e6bd9", steps: true, points: true, values: pts.map((r) => r.price) },
        { label: "base", stroke: "#98a2b3", values: pts.map(() => product.base_price) },
      ], {
        yfmt: (v) => won.format(v),
        axisfmt: wonAxis,
        hooks: {
          setCursor: [(u) => {
            const i = u.cursor.idx;
            if (i === null || i === undefined || !pts[i] || pts[i].now) return;
            hover.textContent = stamp(pts[i].updated_at) + " · " + money(pts[i].price) + " · " + (whyText(pts[i]) || "–");
          }],
        },
      });
    } else {
      chartEl.replaceChildren(h("p", { class: "muted" }, "No price changes yet: the SKU sells at its base price."));
    }
    tbody.replaceChildren(...hist.slice().reverse().slice(0, 50).map((r) => h("tr", {}, h("td", {}, stamp(r.updated_at)), h("td", { class: "n" }, money(r.price)), h("td", {}, whyText(r)))));
  }
  const reload = throttle(load, 1000);
  ctx.on((ev) => { if (ev.type === "reset" || (ev.type === "price.changed" && (ev.skipped || (ev.data && ev.data.sku === sku)))) reload(); });
  await load();
}

// ------------------------------------------------------------------ rules

const RULE_FIELDS = [
  ["demand_weight", "demand weight (move per doubling)"],
  ["max_demand_adjust", "max demand adjust"],
  ["smoothing_units", "smoothing units"],
  ["scarcity_weight", "scarcity weight"],
  ["target_cover_hours", "target cover (hours)"],
  ["overstock_weight", "overstock weight"],
  ["overstock_cover_hours", "overstock cover (hours)"],
  ["step_limit", "step limit (0.05 = ±5 %)"],
  ["cooldown_seconds", "cooldown (seconds)"],
  ["price_unit", "price unit (₩)"],
];

views.rules = async (ctx) => {
  ctx.main.append(h("h1", {}, "Pricing rules"));
  const tbody = h("tbody", { id: "rules" });
  const formBox = h("div", { class: "panel" });
  ctx.main.append(
    h("table", {}, h("thead", {}, h("tr", {}, ["Category", "Rule id", "Policy", "Step limit", "Cooldown", "Target cover", "Kill switch", ""].map((t) => h("th", {}, t)))), tbody),
    h("h2", {}, "Edit a rule"),
    formBox,
  );
  let rules = [];
  async function load() {
    try {
      rules = (await api("/v1/pricing/rules")).items || [];
    } catch (e) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 8 }, errorBox(e))));
      return;
    }
    tbody.replaceChildren(...rules.map((r) => h("tr", { "data-category": r.category },
      h("td", {}, r.category), h("td", { class: "muted" }, r.id), h("td", {}, r.policy || "rule"),
      h("td", { class: "n" }, pct(r.step_limit, 0)), h("td", { class: "n" }, num(r.cooldown_seconds) + " s"),
      h("td", { class: "n" }, num(r.target_cover_hours) + " h"),
      h("td", { class: r.frozen ? "bad" : "muted" }, r.frozen ? "FROZEN" : "off"),
      h("td", {}, h("button", { type: "button", onclick: () => edit(r) }, "edit")))));
    if (!rules.length) tbody.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "no rules yet: every category prices with the default rule")));
  }

  function edit(rule) {
    const r = Object.assign({}, rule || {});
    const category = h("input", { name: "category", value: r.category || "", required: true, placeholder: "category" });
    const inputs = RULE_FIELDS.map(([k, label]) => h("label", {}, label, h("input", { name: k, type: "number", step: "any", value: r[k] === undefined ? "" : r[k] })));
    const policy = h("select", { name: "policy" }, h("option", { value: "rule" }, "rule (heuristic)"), h("option", { value: "learn" }, "learn (demand model)"));
    policy.value = r.policy || "rule";
    const objective = h("select", { name: "objective" }, h("option", { value: "margin" }, "margin"), h("option", { value: "revenue" }, "revenue"));
    objective.value = r.objective || "margin";
    const frozen = h("input", { type: "checkbox", name: "frozen", checked: !!r.frozen });
    const msg = h("span", { class: "muted", id: "rule-msg" });
    const save = h("button", { type: "submit" }, "Save rule");
    const form = h("form", { class: "rule", id: "rule-form" },
      h("label", {}, "category", category),
      inputs,
      h("label", {}, "policy", policy),
      h("label", {}, "objective (learn)", objective),
      h("div", { class: "row" }, h("label", {}, h("span", {}, frozen, " kill switch: freeze this category's prices"))),
      h("div", { class: "row" }, save, msg));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!token()) { msg.replaceChildren(needToken("Editing a rule")); return; }
      const body = Object.assign({}, r);
      delete body.id; // the server names the new version
      body.category = category.value.trim();
      for (const [k] of RULE_FIELDS) {
        const v = form.elements[k].value;
        if (v !== "") body[k] = Number(v);
      }
      body.policy = policy.value;
      body.objective = objective.value;
      body.frozen = frozen.checked;
      save.disabled = true;
      msg.className = "muted";
      msg.textContent = "publishing…";
      try {
        const saved = await api("/v1/pricing/rules/" + encodeURIComponent(body.category), { method: "PUT", body });
        msg.textContent = "published " + saved.id + "; waiting for pricing to read it back…";
        // The rule travels through the rules topic: read it back until it shows.
        for (let i = 0; i < 40; i++) {
          try {
            const back = await api("/v1/pricing/rules/" + encodeURIComponent(body.category));
            if (back.id === saved.id) { msg.textContent = "in effect: " + saved.id; break; }
          } catch (e2) { /* not there yet */ }
          await new Promise((res) => setTimeout(res, 250));
        }
        await load();
      } catch (err) {
        msg.className = "error";
        msg.textContent = err.message + (err.code ? " (" + err.code + ")" : "");
      } finally {
        save.disabled = false;
      }
    });
    formBox.replaceChildren(form);
  }

  const reload = throttle(load, 1000);
  ctx.on((ev) => { if (ev.type === "pricing.rule" || ev.type === "reset") reload(); });
  await load();
  edit(rules[0] || { category: "" });
};

// -------------------------------------------------------------- inventory

views.inventory = async (ctx) => {
  ctx.main.append(h("h1", {}, "Inventory and replenishment"));
  const stockBody = h("tbody", { id: "stock" });
  const alertBody = h("tbody", { id: "alerts" });
  const poBody = h("tbody", { id: "pos" });
  const q = h("input", { type: "search", placeholder: "search SKU or name", "aria-label": "search stock" });
  const stockPg = pager(() => loadStock());
  stockPg.setLabels("← previous", "next →");
  const alertPg = pager(() => loadAlerts());
  const status = h("select", { "aria-label": "purchase order status" }, ["", "created", "confirmed", "shipped", "received", "cancelled"].map((s) => h("option", { value: s }, s || "all statuses")));
  ctx.main.append(
    h("div", { class: "grid2" },
      h("div", {},
        h("h2", {}, "Stock"),
        h("div", { class: "toolbar" }, q),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "SKU"), h("th", {}, "Name"), h("th", { class: "n" }, "Available"), h("th", { class: "n" }, "Threshold"), h("th", {}, ""))), stockBody),
        stockPg.el),
      h("div", {},
        h("h2", {}, "Stock alerts, newest first"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "At"), h("th", {}, "Type"), h("th", {}, "SKU"), h("th", { class: "n" }, "Available"))), alertBody),
        alertPg.el)),
    h("h2", {}, "Purchase orders"),
    h("div", { class: "toolbar" }, status),
    h("table", {}, h("thead", {}, h("tr", {}, ["Created", "SKU", "Qty", "Status", "Supplier", "Expected", "Why (ROP / EOQ)", ""].map((t) => h("th", {}, t)))), poBody),
  );

  async function loadStock() {
    try {
      const page = await api("/v1/prices" + qs({ q: q.value.trim(), limit: 15, cursor: stockPg.cursor() }));
      stockBody.replaceChildren(...(page.items || []).map((p) => {
        const low = p.threshold && p.available <= p.threshold;
        const fill = h("span");
        fill.style.width = Math.min(100, p.threshold ? (p.available / (p.threshold * 3)) * 100 : 100) + "%";
        return h("tr", { "data-sku": p.sku }, h("td", {}, p.sku), h("td", {}, p.name), h("td", { class: "n" + (low ? " bad" : "") }, num(p.available)), h("td", { class: "n" }, num(p.threshold)), h("td", {}, h("div", { class: "bar" + (low ? " low" : "") }, fill)));
      }));
      stockPg.update(page.next_cursor, (page.items || []).length);
    } catch (e) {
      stockBody.replaceChildren(h("tr", {}, h("td", { colspan: 5 }, errorBox(e))));
    }
  }
  const alertRow = (a) => h("tr", {}, h("td", { class: "nowrap", title: stamp(a.at) }, shortStamp(a.at)), h("td", {}, h("span", { class: "tag " + a.type }, a.type)), h("td", { class: "nowrap" }, a.sku), h("td", { class: "n" }, num(a.available) + " / " + num(a.threshold)));
  async function loadAlerts() {
    try {
      const page = await api("/v1/alerts" + qs({ order: "newest", limit: 15, cursor: alertPg.cursor() }));
      alertBody.replaceChildren(...(page.items || []).map(alertRow));
      if (!(page.items || []).length) alertBody.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "no alerts")));
      alertPg.update(page.next_cursor, (page.items || []).length);
    } catch (e) {
      alertBody.replaceChildren(h("tr", {}, h("td", { colspan: 4 }, errorBox(e))));
    }
  }
  const NEXT = { created: ["confirmed", "cancelled"], confirmed: ["shipped", "cancelled"], shipped: ["received"] };
  async function loadPOs() {
    try {
      const list = await api("/v1/purchase-orders" + qs({ status: status.value, limit: 30 }));
      poBody.replaceChildren(...(list.items || []).map((po) => {
        const j = po.justification || {};
        const why = h("details", {}, h("summary", {}, "ROP " + num(Math.round(j.rop)) + " · EOQ " + num(Math.round(j.eoq))),
          h("dl", { class: "kv" },
            h("dt", {}, "daily demand d"), h("dd", {}, (+j.d || 0).toFixed(2)),
            h("dt", {}, "deviation σ"), h("dd", {}, (+j.sigma || 0).toFixed(2)),
            h("dt", {}, "lead time L"), h("dd", {}, (+j.lead_time_days || 0) + " days"),
            h("dt", {}, "safety factor z"), h("dd", {}, (+j.z || 0).toFixed(2)),
            h("dt", {}, "position seen"), h("dd", {}, num(j.position))));
        const acts = (NEXT[po.status] || []).map((to) => h("button", { type: "button", class: to === "cancelled" ? "danger" : "", onclick: () => transition(po, to) }, to));
        return h("tr", {}, h("td", {}, stamp(po.created_at)), h("td", {}, po.sku), h("td", { class: "n" }, num(po.quantity)),
          h("td", {}, h("span", { class: "tag " + po.status }, po.status), po.urgent ? h("span", { class: "bad" }, " urgent") : null),
          h("td", {}, po.supplier), h("td", {}, stamp(po.expected_at)), h("td", {}, why), h("td", {}, token() ? acts : null));
      }));
      if (!(list.items || []).length) poBody.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "no purchase orders")));
    } catch (e) {
      poBody.replaceChildren(h("tr", {}, h("td", { colspan: 8 }, errorBox(e))));
    }
  }
  async function transition(po, to) {
    try {
      await api("/v1/purchase-orders/" + encodeURIComponent(po.id) + "/transitions", { method: "POST", body: { status: to } });
    } catch (e) {
      alert(e.message);
    }
    loadPOs();
  }
  q.addEventListener("input", debounce(() => { stockPg.reset(); loadStock(); }, 250));
  status.addEventListener("change", loadPOs);
  const reloadStock = throttle(loadStock, 2000);
  const reloadPOs = throttle(loadPOs, 1000);
  const reloadAlerts = throttle(loadAlerts, 1000);
  ctx.on((ev) => {
    if (ev.type === "reset") { loadStock(); loadAlerts(); loadPOs(); return; }
    if (ev.type === "inventory.alert" && ev.skipped) {
      if (alertPg.first()) reloadAlerts();
    } else if (ev.type === "inventory.alert" && alertPg.first() && ev.data) {
      alertBody.prepend(alertRow(ev.data));
      while (alertBody.childElementCount > 15) alertBody.lastElementChild.remove();
    } else if (ev.type && ev.type.startsWith("inventory.")) reloadStock();
    if (ev.type && ev.type.startsWith("purchase_order.")) reloadPOs();
  });
  await Promise.all([loadStock(), loadAlerts(), loadPOs()]);
};

// ----------------------------------------------------------------- orders

views.orders = async (ctx) => {
  if (ctx.arg) return orderDetail(ctx, ctx.arg);
  ctx.main.append(h("h1", {}, "Orders"));
  if (!token()) { ctx.main.append(needToken("The order list")); return; }
  const status = h("select", { "aria-label": "order status" }, ["", "pending", "paid", "payment_failed", "cancelled"].map((s) => h("option", { value: s }, s || "all statuses")));
  const tbody = h("tbody", { id: "orders" });
  const pg = pager(() => load());
  ctx.main.append(
    h("div", { class: "toolbar" }, status, h("span", { class: "grow" }), h("span", { class: "muted" }, "new orders appear live")),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Created"), h("th", {}, "Order"), h("th", {}, "Customer"), h("th", {}, "Status"), h("th", { class: "n" }, "Items"), h("th", { class: "n" }, "Total"), h("th", {}, "Payment"))), tbody),
    pg.el,
  );
  async function load() {
    try {
      const page = await api("/v1/orders" + qs({ status: status.value, limit: 25, cursor: pg.cursor() }));
      tbody.replaceChildren(...(page.items || []).map((o) => h("tr", { "data-order": o.id },
        h("td", {}, stamp(o.created_at)),
        h("td", {}, h("a", { href: "#/orders/" + encodeURIComponent(o.id) }, o.id)),
        h("td", {}, o.customer_id),
        h("td", {}, h("span", { class: "tag " + o.status }, o.status)),
        h("td", { class: "n" }, num((o.items || []).reduce((a, l) => a + (l.quantity || 0), 0))),
        h("td", { class: "n" }, money(o.total)),
        h("td", { class: o.failure_reason ? "bad" : "muted" }, o.failure_reason || o.payment_id || "–"))));
      if (!(page.items || []).length) tbody.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "no orders yet")));
      pg.update(page.next_cursor, (page.items || []).length);
    } catch (e) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 7 }, errorBox(e))));
    }
  }
  status.addEventListener("change", () => { pg.reset(); load(); });
  const reload = throttle(() => { if (pg.first()) load(); }, 500);
  ctx.on((ev) => { if (ev.type === "reset" || (ev.type && ev.type.startsWith("order."))) reload(); });
  await load();
};

async function orderDetail(ctx, id) {
  ctx.main.append(h("p", {}, h("a", { href: "#/orders" }, "← all orders")), h("h1", {}, "Order " + id));
  const box = h("div", { class: "grid2" });
  ctx.main.append(box);
  async function load() {
    try {
      const [o, tl] = await Promise.all([api("/v1/orders/" + encodeURIComponent(id)), api("/v1/orders/" + encodeURIComponent(id) + "/timeline")]);
      box.replaceChildren(
        h("div", { class: "panel" },
          h("dl", { class: "kv" },
            h("dt", {}, "status"), h("dd", {}, h("span", { class: "tag " + o.status }, o.status)),
            h("dt", {}, "customer"), h("dd", {}, o.customer_id),
            h("dt", {}, "total"), h("dd", {}, money(o.total)),
            h("dt", {}, "payment"), h("dd", {}, o.failure_reason || o.payment_id || "–"),
            h("dt", {}, "created"), h("dd", {}, stamp(o.created_at))),
          h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "SKU"), h("th", { class: "n" }, "Qty"), h("th", { class: "n" }, "Unit price"))),
            h("tbody", {}, (o.items || []).map((l) => h("tr", {}, h("td", {}, l.sku), h("td", { class: "n" }, num(l.quantity)), h("td", { class: "n" }, money(l.unit_price))))))),
        h("div", { class: "panel" }, h("h2", {}, "Timeline"),
          h("ul", { class: "timeline" }, (tl.events || []).map((e) => h("li", {}, h("strong", {}, e.type), " ", h("span", { class: "muted" }, stamp(e.at)), e.detail ? h("div", {}, e.detail) : null)))));
    } catch (e) {
      box.replaceChildren(e.status === 403 || e.status === 401 ? needToken("An order") : errorBox(e));
    }
  }
  const reload = throttle(load, 1000);
  ctx.on((ev) => {
    if (ev.subject === id || (ev.data && ev.data.order_id === id)) load();
    else if (ev.skipped && /^(order|payment)\./.test(ev.type)) reload(); // it may be among the skipped
  });
  await load();
}

// ---------------------------------------------------------------- reviews

// highlighted renders a search fragment whose only markup is <mark>…</mark>
// around HTML-escaped text: the text is unescaped and set as text nodes.
function highlighted(fragment) {
  const out = h("span");
  const unescape = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&#39;/g, "'").replace(/&#34;/g, "\"").replace(/&amp;/g, "&");
  const parts = String(fragment).split(/(<mark>|<\/mark>)/);
  let marked = false;
  for (const p of parts) {
    if (p === "<mark>") { marked = true; continue; }
    if (p === "</mark>") { marked = false; continue; }
    if (!p) continue;
    out.append(marked ? h("mark", {}, unescape(p)) : document.createTextNode(unescape(p)));
  }
  return out;
}

views.reviews = async (ctx) => {
  ctx.main.append(h("h1", {}, "Reviews"));
  const q = h("input", { type: "search", placeholder: "search reviews (한국어 or English)", value: ctx.params.get("q") || "", "aria-label": "search reviews", class: "grow" });
  const sku = h("input", { type: "search", placeholder: "SKU", value: ctx.params.get("sku") || "", "aria-label": "product SKU" });
  const facets = h("div", { class: "facets" });
  const results = h("div", { id: "review-hits" });
  const dayChart = h("div", { class: "chart" });
  const summary = h("div", { class: "panel" }, h("p", { class: "muted" }, "Enter a SKU to see its sentiment trend and the words people use."));
  const fresh = h("div");
  const state = { sentiment: ctx.params.get("sentiment") || "", min_rating: ctx.params.get("min_rating") || "" };
  ctx.main.append(
    h("div", { class: "toolbar" }, q, sku),
    facets,
    fresh,
    h("div", { class: "grid2" },
      h("div", {}, h("h2", {}, "Matches"), results),
      h("div", {}, h("h2", {}, "Reviews per day"), h("div", { class: "panel" }, dayChart), h("h2", {}, "Product"), summary)),
  );
  async function load() {
    setHashQuery("reviews", { q: q.value.trim(), sku: sku.value.trim(), sentiment: state.sentiment, min_rating: state.min_rating });
    fresh.replaceChildren();
    let res;
    try {
      res = await api("/v1/reviews/search" + qs({ q: q.value.trim(), sku: sku.value.trim(), sentiment: state.sentiment, min_rating: state.min_rating, limit: 20 }));
    } catch (e) {
      results.replaceChildren(errorBox(e));
      return;
    }
    const agg = res.aggregations || {};
    const facetBtn = (key, value, label, count) => h("button", {
      type: "button", class: state[key] === value ? "on" : "",
      onclick: () => { state[key] = state[key] === value ? "" : value; load(); },
    }, label + " (" + num(count) + ")");
    facets.replaceChildren(
      h("span", { class: "muted" }, num(res.total) + " reviews · "),
      facetBtn("sentiment", "positive", "positive", (agg.sentiment || {}).positive || 0),
      facetBtn("sentiment", "negative", "negative", (agg.sentiment || {}).negative || 0),
      h("span", { class: "muted" }, " rating ≥ "),
      ...[5, 4, 3, 2].map((r) => facetBtn("min_rating", String(r), r + "★", Object.entries(agg.rating || {}).filter(([k]) => Number(k) >= r).reduce((a, [, v]) => a + v, 0))),
    );
    results.replaceChildren(...(res.hits || []).map((hit) => h("div", { class: "hit" },
      h("div", {}, h("span", { class: "tag " + (hit.sentiment && hit.sentiment.label) }, (hit.sentiment && hit.sentiment.label) || "?"), " ",
        "★".repeat(hit.rating || 0), " ", h("span", { class: "muted" }, hit.lang + " · " + hit.sku + " · " + stamp(hit.created_at))),
      h("div", { class: "text" }, hit.highlights && hit.highlights.length ? highlighted(hit.highlights[0]) : hit.text))));
    if (!(res.hits || []).length) results.append(h("p", { class: "muted" }, "no reviews match"));
    const days = agg.by_day || [];
    if (days.length) {
      chart(dayChart, days.map((d) => Date.parse(d.date + "T00:00:00Z") / 1000), [
        { label: "positive", stroke: "#0f8a4a", values: days.map((d) => d.positive) },
        { label: "negative", stroke: "#c2410c", values: days.map((d) => d.negative) },
      ], { height: 180 });
    } else dayChart.replaceChildren(h("p", { class: "muted" }, "no data"));
    loadSummary();
  }
  async function loadSummary() {
    const s = sku.value.trim();
    if (!s) return;
    try {
      const sum = await api("/v1/products/" + encodeURIComponent(s) + "/review-summary");
      const words = (list) => h("div", { class: "words" }, (list || []).map((w) => h("span", { class: "tag" }, typeof w === "string" ? w : (w.word || w.term))));
      const trendEl = h("div", { class: "chart" });
      summary.replaceChildren(
        h("dl", { class: "kv" },
          h("dt", {}, "reviews"), h("dd", {}, num(sum.count)),
          h("dt", {}, "positive"), h("dd", {}, pct(sum.positive_ratio, 0)),
          h("dt", {}, "average rating"), h("dd", {}, (+sum.avg_rating || 0).toFixed(2) + " ★")),
        h("h2", {}, "Words in positive reviews"), words(sum.top_positive_words || sum.top_positive_terms),
        h("h2", {}, "Words in negative reviews"), words(sum.top_negative_words || sum.top_negative_terms),
        h("h2", {}, "Sentiment trend"), trendEl);
      const tr = sum.trend || [];
      if (tr.length) {
        chart(trendEl, tr.map((d) => Date.parse(d.date + "T00:00:00Z") / 1000), [
          { label: "positive share", stroke: "#0f8a4a", values: tr.map((d) => (d.count ? d.positive / d.count : null)) },
        ], { height: 150, yfmt: (v) => Math.round(v * 100) + "%", yrange: [0, 1] });
      }
    } catch (e) {
      summary.replaceChildren(errorBox(e));
    }
  }
  q.addEventListener("input", debounce(load, 300));
  sku.addEventListener("input", debounce(load, 300));
  ctx.on((ev) => {
    if (ev.type !== "review.created") return;
    fresh.replaceChildren(h("div", { class: "notice" }, "New reviews arrived. ", h("button", { type: "button", onclick: load }, "show")));
  });
  await load();
};

// ---------------------------------------------------------------- reports

views.reports = async (ctx) => {
  ctx.main.append(h("h1", {}, "Sales reports"));
  const latest = h("div");
  const runsBody = h("tbody", { id: "report-runs" });
  const runBtn = h("button", { type: "button" }, "Run today's report now");
  const msg = h("span", { class: "muted" });
  ctx.main.append(
    h("div", { class: "toolbar" }, runBtn, msg),
    latest,
    h("h2", {}, "Runs"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Day", "Status", "Engine", "Trigger", "Seconds", "Stale", "Report"].map((t) => h("th", {}, t)))), runsBody),
  );
  const key = (r) => (r.from === r.to ? r.from : r.from + "_" + r.to);
  async function load() {
    let runs;
    try {
      runs = (await api("/v1/reports/sales/runs?limit=20")).items || [];
    } catch (e) {
      runsBody.replaceChildren(h("tr", {}, h("td", { colspan: 7 }, errorBox(e))));
      return;
    }
    runsBody.replaceChildren(...runs.map((r) => h("tr", {},
      h("td", {}, key(r)), h("td", {}, h("span", { class: "tag " + (r.status === "failed" ? "cancelled" : r.status === "succeeded" ? "paid" : "pending") }, r.status)),
      h("td", {}, r.engine), h("td", {}, r.trigger), h("td", { class: "n" }, ((r.duration_ms || 0) / 1000).toFixed(1)),
      h("td", { class: r.stale ? "warn" : "muted" }, r.stale ? "stale" : "–"),
      h("td", {}, r.status === "succeeded" ? ["json", "csv", "html"].map((f, i) => [i ? " · " : "", h("a", { href: "/v1/reports/sales/" + key(r) + (f === "json" ? "" : "." + f) }, f)]) : (r.error || "")))));
    if (!runs.length) runsBody.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "no report runs yet")));
    const ok = runs.find((r) => r.status === "succeeded");
    if (!ok) { latest.replaceChildren(h("p", { class: "muted" }, "No report has succeeded yet.")); return; }
    try {
      showReport(await api("/v1/reports/sales/" + key(ok)));
    } catch (e) {
      latest.replaceChildren(errorBox(e));
    }
  }
  function showReport(rep) {
    const s = rep.summary || {};
    const hourly = h("div", { class: "chart" });
    latest.replaceChildren(
      h("h2", {}, "Latest report: " + (rep.from === rep.to ? rep.from : rep.from + " – " + rep.to) + " (" + rep.engine + ")"),
      h("div", { class: "cards" },
        [["Orders", num(s.orders)], ["Units", num(s.units)], ["Gross revenue", money(s.gross_revenue)], ["Net revenue", money(s.net_revenue)],
          ["Average order", money(Math.round(s.average_order_value || 0))], ["Payment failures", pct(s.payment_failure_rate)], ["Cancellations", num(s.cancellations)], ["Refunded", money(s.refunded_amount)]]
          .map(([k, v]) => h("div", { class: "card" }, h("div", { class: "k" }, k), h("div", { class: "v" }, v)))),
      h("div", { class: "grid2" },
        h("div", { class: "panel" }, h("h2", {}, "Revenue by hour"), hourly),
        h("div", { class: "panel" }, h("h2", {}, "By category"),
          h("table", {}, h("tbody", {}, (rep.by_category || []).map((c) => h("tr", {}, h("td", {}, c.category), h("td", { class: "n" }, money(c.revenue)), h("td", { class: "n" }, pct(c.revenue_share))))))),
      ),
      h("h2", {}, "Top SKUs"),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "SKU"), h("th", {}, "Category"), h("th", { class: "n" }, "Units"), h("th", { class: "n" }, "Revenue"), h("th", { class: "n" }, "Price index"))),
        h("tbody", {}, (rep.top_skus || []).slice(0, 10).map((t) => h("tr", {}, h("td", {}, t.rank), h("td", {}, h("a", { href: "#/prices/" + encodeURIComponent(t.sku) }, t.sku)), h("td", {}, t.category), h("td", { class: "n" }, num(t.units)), h("td", { class: "n" }, money(t.revenue)), h("td", { class: "n" }, (+t.price_index || 0).toFixed(3)))))),
    );
    const hrs = rep.hourly || [];
    if (hrs.length) {
      chart(hourly, hrs.map((x) => x.hour), [{ label: "revenue", stroke: "#2e6bd9", fill: "rgba(46,107,217,.25)", bars: true, values: hrs.map((x) => x.revenue) }], { time: false, height: 200, yfmt: (v) => won.format(v), axisfmt: wonAxis });
    }
  }
  runBtn.addEventListener("click", async () => {
    if (!token()) { msg.replaceChildren(needToken("Running a report")); return; }
    runBtn.disabled = true;
    msg.textContent = "running…";
    try {
      const day = new Date(Date.now() + 9 * 3600e3).toISOString().slice(0, 10); // today in KST
      const run = await api("/v1/reports/sales/runs", { method: "POST", body: { date: day } });
      msg.textContent = "run " + run.id + ": " + run.status;
    } catch (e) {
      msg.textContent = e.message;
    } finally {
      runBtn.disabled = false;
      load();
    }
  });
  await load();
};

// ------------------------------------------------------------------- boot

function boot() {
  const input = document.getElementById("token");
  const clear = document.getElementById("token-clear");
  const showToken = () => { clear.hidden = !token(); input.placeholder = token() ? "admin token set" : "admin token"; };
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value);
    input.value = "";
    showToken();
    live.restart();
    route();
  });
  clear.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showToken();
    live.restart();
    route();
  });
  showToken();
  window.addEventListener("hashchange", route);
  refreshReady();
  setInterval(refreshReady, 10000);
  runLive();
  route();
}

boot();
