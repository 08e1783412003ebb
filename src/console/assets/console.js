// The operators' and auditors' console: one page, no build step, nothing from other
// hosts. Every figure comes from ordo's own API with the console's token: traded, once,
// for the token in the sign-in link, kept in this tab only (sessionStorage), revoked on
// sign-out and forgotten when the API refuses it.
"use strict";

const TOKEN_KEY = "ordo.console.token";
const POLL_MS = 2000;
const LAG_WINDOW_MS = 5 * 60 * 1000;
const SLIDER_REST_MS = 150;
const COLORS = ["#2456c7", "#1e7d46", "#b3261e", "#9a6700", "#7b3fb5", "#00838f"];

// ---- the token -------------------------------------------------------------------------

/** Takes `#token=...` from the address (it never reached a server) and trades it, once,
 *  for the console's own token: the link left in the browser's history is then spent.
 *  Answers why it could not sign in, if it could not. */
async function signInFromFragment() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", location.pathname + location.search + "#/health");
  // The new link is checked first: a link that does not work (spent, forged, a
  // shopper's) leaves a signed-in tab as it was, so nobody can sign an operator out by
  // getting them to open one.
  const previous = token();
  try {
    // A JWT needs no unescaping: what follows `#token=` is the token.
    const response = await fetch("/api/v1/admin/console/sign-in", {
      method: "POST", headers: { Authorization: "Bearer " + match[1] },
    });
    const body = await response.json().catch(() => null);
    if (response.status === 403) return NOT_AN_OPERATOR;
    if (!response.ok) return `That sign-in link does not work: ${(body && body.message) || "HTTP " + response.status}.`;
    // It replaces this tab's sign-in: the old token is ended, not just forgotten.
    stopPolling();
    sessionStorage.setItem(TOKEN_KEY, body.data.access_token);
    if (previous) revoke(previous);
    return null;
  } catch (error) {
    return "Could not reach ordo to sign in: " + error.message;
  }
}

const NOT_AN_OPERATOR = "That token is not an operator's: the console needs one from `ordo console-url`.";

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  stopPolling();
  history.replaceState(null, "", location.pathname + location.search);
  render(reason);
}

// ---- talking to the API ----------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The `data` of an answer; a refused token signs the operator out. */
async function api(path, options = {}) {
  const used = token();
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: "Bearer " + used, ...(options.headers || {}) },
  });
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}));
    // An answer to a token this tab has since replaced signs nothing out.
    if (used !== token()) throw new ApiError(response.status, "signed in again");
    signOut(response.status === 403
      ? NOT_AN_OPERATOR
      : "The token expired or was revoked (" + (body.message || response.status) + ").");
    throw new ApiError(response.status, "signed out");
  }
  if (options.raw) {
    if (!response.ok) throw new ApiError(response.status, "HTTP " + response.status);
    return response;
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.message) || "HTTP " + response.status);
  }
  return body.data;
}

// ---- building the page (text only: nothing from the API is parsed as HTML) --------------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    // Through the CSSOM: the page's policy refuses style attributes in markup.
    else if (name === "style") element.style.cssText = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children.flat()) {
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function card(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

function table(headers, rows, attributes = {}) {
  return h("table", attributes,
    h("thead", {}, h("tr", {}, headers.map((title) =>
      h("th", { class: /^(lag|position|version|parked|on hand|reserved|available|amount|events)/i.test(title) ? "num" : null }, title)))),
    h("tbody", {}, rows));
}

function errorLine(error) {
  return h("p", { class: "error", "data-testid": "error" }, String(error.message || error));
}

function time(value) {
  if (!value) return "";
  const date = new Date(value);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Who caused an event: `id (role)`, or nothing when the event does not say. */
function who(actor) {
  return actor && actor.id ? `${actor.id} (${actor.role || "?"})` : "";
}

function yuan(cents) {
  return cents === null || cents === undefined ? "" : "¥" + (cents / 100).toFixed(2);
}

// ---- views -----------------------------------------------------------------------------

let pollTimer = null;
let pollGeneration = 0;

function stopPolling() {
  pollGeneration += 1;
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
}

/** Runs `tick` now and `every` ms after each one finishes (never two at once). A tick
 *  asks `current()` before it writes: the page may have changed while it waited. */
function poll(every, tick) {
  stopPolling();
  const generation = pollGeneration;
  const current = () => generation === pollGeneration;
  const run = async () => {
    await tick(current);
    if (current()) pollTimer = setTimeout(run, every);
  };
  run();
}

function render(message) {
  stopPolling();
  if (verification) verification.abort();
  const main = document.getElementById("main");
  const signedIn = Boolean(token());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  main.replaceChildren();
  if (!signedIn) {
    main.append(signInView(message));
    return;
  }
  // A link that did not work, opened in a tab still signed in with its own token.
  if (message) main.append(h("p", { class: "error", role: "alert", "data-testid": "sign-in-error" }, message));
  const [, view = "health", raw = ""] = /^#\/([a-z]+)\/?(.*)$/.exec(location.hash) || [];
  let argument = "";
  try {
    argument = decodeURIComponent(raw);
  } catch {
    argument = raw; // a malformed escape: shown as typed, refused by the API
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === view);
  }
  const views = { health: healthView, orders: ordersView, stock: stockView, audit: auditView, payments: paymentsView };
  main.append((views[view] || healthView)(argument));
}

function signInView(message) {
  return card("Sign in",
    message ? h("p", { class: "error", "data-testid": "signed-out" }, message) : null,
    h("p", {}, "Run ", h("code", {}, "ordo console-url"),
      " on the server and open the address it prints. The link signs this tab in, once; the console's token stays in this tab, and signing out revokes it."));
}

// Health: each projection's state, position and lag, refreshed live, and rebuilds.

const lagSamples = [];
const rebuilds = {};

function healthView() {
  const status = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const lagChart = h("div", {});
  const orders = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const horizon = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const root = h("div", {},
    card("Projections", status),
    card("Long transactions", horizon,
      h("p", { class: "hint" }, "Transactions holding an id for more than 5 s anywhere on the database cluster. The read side waits for those appending events; it passes the others, which still hold back PostgreSQL's clean-up.")),
    card("Lag over the last 5 minutes", lagChart,
      h("p", { class: "hint" }, "Events each projection is behind the feed, sampled every 2 s while this page is open.")),
    card("Orders per second (this server process)", orders,
      h("p", { class: "hint" }, "From the counters /metrics serves (orders_placed_total, orders_refused_total), sampled every 2 s.")));
  poll(POLL_MS, async (current) => {
    try {
      const [projections, counts, report] = await Promise.all([
        api("/api/v1/admin/projections"), api("/api/v1/admin/metrics/orders"), api("/api/v1/admin/feed-horizon")]);
      if (!current()) return;
      const now = Date.now();
      lagSamples.push({ at: now, lags: Object.fromEntries(projections.map((p) => [p.name, p.lag_events])) });
      orderSamples.push({ at: now, process: counts.process, placed: counts.placed, refused: Object.values(counts.refused).reduce((a, b) => a + b, 0), byReason: counts.refused });
      for (const samples of [lagSamples, orderSamples]) {
        while (samples.length && samples[0].at < now - LAG_WINDOW_MS) samples.shift();
      }
      status.replaceChildren(projectionTable(projections));
      horizon.replaceChildren(longTransactions(report));
      lagChart.replaceChildren(lineChart({
        series: projections.map((p) => ({ name: p.name, points: lagSamples.filter((s) => p.name in s.lags).map((s) => [s.at, s.lags[p.name]]) })),
        from: now - LAG_WINDOW_MS, to: now, yLabel: "events behind", xLabels: ["5 min ago", "now"], label: "lag in events per projection",
      }));
      orders.replaceChildren(orderRates(now));
    } catch (error) {
      if (current() && error.status !== 401 && error.status !== 403) status.replaceChildren(errorLine(error));
    }
  });
  return root;
}

const orderSamples = [];

/** Rates between successive samples of one process's counters (behind a proxy the
 *  samples alternate between processes, each counting its own; a restart starts again
 *  from 0), and the latest as figures. */
function orderRates(now) {
  const rates = [];
  const last = {};
  for (const sample of orderSamples) {
    const before = last[sample.process];
    last[sample.process] = sample;
    const seconds = before ? (sample.at - before.at) / 1000 : 0;
    if (seconds < 0.5 || sample.placed < before.placed || sample.refused < before.refused) continue;
    rates.push({ at: sample.at, placed: (sample.placed - before.placed) / seconds, refused: (sample.refused - before.refused) / seconds });
  }
  const latest = rates[rates.length - 1] || { placed: 0, refused: 0 };
  const totals = orderSamples[orderSamples.length - 1];
  const reasons = Object.entries(totals.byReason).map(([reason, n]) => `${reason}: ${n}`).join(", ");
  return h("div", {},
    h("div", { class: "stats" },
      h("div", { class: "stat" }, "Placed / s", h("b", { "data-testid": "placed-rate" }, latest.placed.toFixed(1))),
      h("div", { class: "stat" }, "Refused / s", h("b", {}, latest.refused.toFixed(1))),
      h("div", { class: "stat" }, "Placed since start", h("b", { "data-testid": "placed-total" }, totals.placed)),
      h("div", { class: "stat" }, "Refused since start", h("b", {}, totals.refused))),
    reasons ? h("p", { class: "hint" }, "Refusals by reason: " + reasons) : null,
    lineChart({
      series: [{ name: "placed / s", points: rates.map((r) => [r.at, r.placed]) }, { name: "refused / s", points: rates.map((r) => [r.at, r.refused]) }],
      from: now - LAG_WINDOW_MS, to: now, yLabel: "orders / s", xLabels: ["5 min ago", "now"], label: "orders placed and refused per second",
    }));
}

/** The transactions that hold the feed's horizon (or would without its watcher). */
function longTransactions(report) {
  if (!report.long_running.length) return h("p", { class: "muted", "data-testid": "long-transactions" }, "None.");
  const now = Date.now();
  const rows = report.long_running.map((t) => h("tr", { "data-testid": "long-transaction" },
    h("td", {}, h("span", { class: "badge " + (t.appender ? "warn" : "ok") }, t.appender ? "appending: read side waits" : "passed")),
    h("td", { class: "num" }, t.pid ?? "—"),
    h("td", {}, t.database ?? "?"),
    h("td", {}, t.application ?? "?"),
    h("td", { class: "num" }, t.since ? Math.round((now - Date.parse(t.since)) / 1000) + " s" : "?"),
    h("td", {}, t.state ?? "?"),
    h("td", {}, h("code", {}, t.query ?? ""))));
  return h("table", { "data-testid": "long-transactions" },
    h("thead", {}, h("tr", {}, ...["", "pid", "database", "application", "for", "state", "query"].map((c) => h("th", {}, c)))),
    h("tbody", {}, ...rows));
}

function projectionTable(projections) {
  const rows = projections.map((p) => {
    const rebuild = rebuilds[p.name];
    let progress = null;
    if (p.state === "rebuilding") {
      const at = p.rebuild_position ?? 0;
      const share = p.head > 0 ? Math.min(100, Math.round((100 * at) / p.head)) : 100;
      progress = h("div", {}, h("div", { class: "progress", title: share + "%" }, h("div", { style: "width:" + share + "%" })),
        h("span", { class: "muted" }, `${at} / ${p.head} events (${share}%)`));
    } else if (rebuild && rebuild.pending) {
      progress = h("span", { class: "muted" }, "starting…");
    } else if (rebuild && rebuild.error) {
      progress = h("span", { class: "error", "data-testid": "rebuild-error-" + p.name }, "did not start: " + rebuild.error);
    } else if (p.rebuild_error) {
      // The server keeps why the last rebuild stopped until the next one starts.
      progress = h("span", { class: "error", "data-testid": "rebuild-error-" + p.name }, "last rebuild stopped: " + p.rebuild_error);
    } else if (rebuild && p.version > rebuild.fromVersion) {
      progress = h("span", { class: "badge ok", "data-testid": "rebuilt-" + p.name }, `rebuilt: now version ${p.version}`);
    }
    const stateClass = p.state === "running" ? "ok" : p.state === "rebuilding" ? "warn" : "bad";
    return h("tr", { "data-projection": p.name },
      h("td", {}, h("b", {}, p.name)),
      h("td", {}, h("span", { class: "badge " + stateClass, "data-testid": "state-" + p.name }, p.state),
        p.error ? h("div", { class: "error" }, p.error) : null),
      h("td", { class: "num" }, p.version),
      h("td", { class: "num" }, `${p.position} / ${p.head}`),
      h("td", { class: "num" }, p.lag_events),
      h("td", { class: "num" }, p.lag_seconds.toFixed(1) + " s"),
      h("td", { class: "num" }, p.parked),
      h("td", {}, progress,
        h("button", {
          type: "button", class: "secondary", "data-testid": "rebuild-" + p.name,
          disabled: p.state === "rebuilding" || (rebuild && rebuild.pending) || null,
          onclick: (event) => {
            event.target.disabled = true;
            startRebuild(p);
          },
        }, "Rebuild")));
  });
  return table(["Projection", "State", "Version", "Position / head", "Lag (events)", "Lag (seconds)", "Parked", "Blue/green rebuild"], rows,
    { "data-testid": "projections" });
}

/** A blue/green rebuild changes nothing the API serves until its copy caught up and is
 *  swapped in, so it starts without asking; the table shows its progress. */
async function startRebuild(projection) {
  const rebuild = { fromVersion: projection.version, pending: true };
  rebuilds[projection.name] = rebuild;
  try {
    // Answered once the rebuild holds its lock: from then on the status tells its story.
    await api(`/api/v1/admin/projections/${encodeURIComponent(projection.name)}/rebuild`, { method: "POST" });
  } catch (error) {
    rebuild.error = error.message;
  } finally {
    rebuild.pending = false;
  }
}

/** Lines over time with units on both axes: `series` = [{name, points: [[ms, value]]}],
 *  drawn as steps when `steps` (a stock level holds until the next move). */
function lineChart({ series, from, to, yLabel, xLabels, steps = false, label }) {
  const width = 720, height = 220, left = 52, right = 12, top = 12, bottom = 28;
  const highest = Math.max(1, ...series.flatMap((s) => s.points.map(([, v]) => v)));
  const lowest = Math.min(0, ...series.flatMap((s) => s.points.map(([, v]) => v)));
  const span = Math.max(1, to - from);
  const x = (at) => left + ((at - from) / span) * (width - left - right);
  const y = (v) => top + (1 - (v - lowest) / (highest - lowest)) * (height - top - bottom);
  const middle = top + (height - top - bottom) / 2;
  const parts = [
    svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }),
    svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }),
    svg("text", { x: left - 6, y: top + 4, "text-anchor": "end" }, formatNumber(highest)),
    svg("text", { x: left - 6, y: height - bottom, "text-anchor": "end" }, formatNumber(lowest)),
    svg("text", { x: 10, y: middle, "text-anchor": "middle", transform: `rotate(-90 10 ${middle})` }, yLabel),
    svg("text", { x: left, y: height - 8 }, xLabels[0]),
    svg("text", { x: width - right, y: height - 8, "text-anchor": "end" }, xLabels[1]),
  ];
  series.forEach((line, i) => {
    const points = [];
    line.points.forEach(([at, value], n) => {
      if (steps && n > 0) points.push(`${x(at).toFixed(1)},${y(line.points[n - 1][1]).toFixed(1)}`);
      points.push(`${x(at).toFixed(1)},${y(value).toFixed(1)}`);
    });
    if (steps && line.points.length) points.push(`${x(to).toFixed(1)},${y(line.points[line.points.length - 1][1]).toFixed(1)}`);
    if (points.length) {
      parts.push(svg("polyline", { points: points.join(" "), fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2 }));
    }
  });
  return h("div", {},
    svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label }, parts),
    h("div", { class: "legend" }, series.map((line, i) => h("span", {}, h("i", { style: "background:" + COLORS[i % COLORS.length] }), line.name))));
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

// Orders: one order's timeline, and its state as of any instant on a slider.

function ordersView(orderId) {
  const input = h("input", { type: "text", name: "order", placeholder: "order id (UUID)", value: orderId, "data-testid": "order-id", "aria-label": "order id" });
  const form = h("form", { class: "row", onsubmit: (event) => {
    event.preventDefault();
    location.hash = "#/orders/" + encodeURIComponent(input.value.trim());
  } }, input, h("button", { type: "submit" }, "Open"));
  const shopper = h("input", { type: "text", name: "user", placeholder: "shopper's user id", "data-testid": "shopper-id", "aria-label": "shopper's user id" });
  const found = h("div", {});
  const shopperForm = h("form", { class: "row", onsubmit: (event) => {
    event.preventDefault();
    const userId = shopper.value.trim();
    found.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    api("/api/v1/admin/orders?size=50&user_id=" + encodeURIComponent(userId))
      .then((page) => found.replaceChildren(orderList(page, "No orders for this shopper.")))
      .catch((error) => found.replaceChildren(errorLine(error)));
  } }, shopper, h("button", { type: "submit", class: "secondary" }, "List orders"));
  const root = h("div", {}, card("Find an order", form, shopperForm, found));
  if (orderId) loadOrder(orderId, root);
  return root;
}

/** A page of orders as a table, each linked to its timeline. */
function orderList(page, empty) {
  if (!page.list.length) return h("p", { class: "muted" }, empty);
  return h("div", {},
    table(["Placed", "Order", "Status", "Total", "Owed back"], page.list.map((order) => h("tr", { "data-testid": "order-row" },
      h("td", { class: "mono" }, time(order.created_at)),
      h("td", { class: "mono" }, h("a", { href: "#/orders/" + order.id }, order.id)),
      h("td", {}, order.status),
      h("td", { class: "num" }, yuan(order.total_cents)),
      h("td", {}, order.refunds_due.map((due) => {
        const refund = order.refunds.find((r) => r.payment_id === due.payment_id);
        return h("div", {}, `${yuan(due.amount_cents)} (${due.reason})`, " ",
          h("span", { class: "badge " + (refund && refund.status === "succeeded" ? "ok" : "warn") },
            refund ? "refund " + refund.status : "not refunded"));
      }), order.refunds.filter((refund) => refund.abnormal).map((refund) =>
        // WeChat Pay reports it stuck: the order stays refunding until its final word.
        h("div", { "data-testid": "refund-abnormal" }, `${yuan(refund.amount_cents)} refund ${refund.refund_no} `,
          h("span", { class: "badge bad" }, "abnormal"), " ", refund.abnormal)))))),
    h("p", { class: "hint" }, `${page.pagination.total} in all; the newest ${Math.min(page.pagination.size, page.pagination.total)} shown.`));
}

async function loadOrder(orderId, root) {
  const timeline = card("Timeline", h("p", { class: "muted" }, "Loading…"));
  const asOf = card("State as of", h("p", { class: "muted" }, "Loading…"));
  root.append(timeline, asOf);
  let history;
  try {
    history = await api(`/api/v1/admin/orders/${encodeURIComponent(orderId)}/history`);
  } catch (error) {
    timeline.replaceChildren(h("h2", {}, "Timeline"), errorLine(error));
    asOf.remove();
    return;
  }
  timeline.replaceChildren(h("h2", {}, "Timeline"), table(
    ["When", "Event", "Stream", "Who", "Request", "Details"],
    history.map((entry) => h("tr", { "data-testid": "timeline-event" },
      h("td", { class: "mono" }, time(entry.recorded_at)),
      h("td", {}, h("b", {}, entry.type)),
      h("td", { class: "mono" }, entry.aggregate_type === "Stock"
        ? h("a", { href: "#/stock/" + entry.aggregate_id, title: entry.aggregate_id }, `Stock ${entry.aggregate_id.slice(0, 8)}… v${entry.version}`)
        : `${entry.aggregate_type} v${entry.version}`),
      h("td", {}, who(entry.actor)),
      h("td", { class: "mono wide" }, entry.request_id || ""),
      h("td", {}, h("details", {}, h("summary", {}, "payload"), h("pre", { class: "mono" }, JSON.stringify(entry.payload, null, 2)))))),
    { "data-testid": "timeline" }));
  const instants = [...new Set(history.filter((e) => e.aggregate_type === "Order").map((e) => e.recorded_at))];
  const slider = h("input", { type: "range", min: 0, max: instants.length - 1, step: 1, value: instants.length - 1, "data-testid": "as-of", "aria-label": "as of" });
  const label = h("span", { class: "mono", "data-testid": "as-of-label" });
  const state = h("div", {});
  // Only the latest question's answer is shown: the slider or the form may have moved on.
  let asked = 0;
  let resting = null;
  const showAt = (instant, text, wait = 0) => {
    const mine = ++asked;
    label.textContent = text;
    // Each answer replays the order's and its products' streams on the server: a slider
    // being dragged asks once it rests, not at every step it passes.
    clearTimeout(resting);
    resting = setTimeout(async () => {
      try {
        const then = await api(`/api/v1/admin/orders/${encodeURIComponent(orderId)}/state?as_of=${encodeURIComponent(instant)}`);
        if (mine === asked) state.replaceChildren(orderState(then));
      } catch (error) {
        if (mine === asked) state.replaceChildren(errorLine(error));
      }
    }, wait);
  };
  const show = (wait) => {
    const instant = instants[Number(slider.value)];
    showAt(instant, time(instant) + ` (after event ${Number(slider.value) + 1} of ${instants.length})`, wait);
  };
  slider.addEventListener("input", () => show(SLIDER_REST_MS));
  // Between its events the order stands still, but its products' stock moves with other
  // orders: any instant can be asked.
  const when = h("input", { type: "datetime-local", step: 1, "aria-label": "any instant (UTC)", "data-testid": "as-of-instant" });
  const anyInstant = h("form", { class: "row", onsubmit: (event) => {
    event.preventDefault();
    if (!when.value) return;
    const instant = new Date(when.value + "Z").toISOString();
    showAt(instant, time(instant));
  } }, h("label", {}, "or any instant (UTC) ", when), h("button", { type: "submit", class: "secondary" }, "Show"));
  asOf.replaceChildren(h("h2", {}, "State as of"), h("div", { class: "row" }, slider, label), anyInstant, state);
  show();
}

function orderState(then) {
  const order = then.order;
  return h("div", {},
    h("div", { class: "stats" },
      h("div", { class: "stat" }, "Status", h("b", { "data-testid": "as-of-status" }, order.status)),
      h("div", { class: "stat" }, "Total", h("b", {}, yuan(order.total_cents))),
      h("div", { class: "stat" }, "Order version", h("b", {}, then.version))),
    table(["Product", "Quantity", "Unit price"], order.lines.map((line) => h("tr", {},
      h("td", {}, line.name, " ", h("span", { class: "muted mono" }, line.product_id)),
      h("td", { class: "num" }, line.quantity),
      h("td", { class: "num" }, yuan(line.unit_price_cents))))),
    h("p", { class: "hint" }, "Stock of its products then:"),
    table(["Product", "On hand", "Reserved", "Available"], then.stocks.map((stock) => h("tr", {},
      h("td", { class: "mono" }, h("a", { href: "#/stock/" + stock.product_id }, stock.product_id)),
      h("td", { class: "num" }, stock.on_hand),
      h("td", { class: "num" }, stock.reserved),
      h("td", { class: "num" }, stock.available)))));
}

// Stock: a product's stock as of an instant, and its latest moves as a chart.

function stockView(productId) {
  const product = h("input", { type: "text", placeholder: "product id (UUID)", value: productId, "aria-label": "product id" });
  const when = h("input", { type: "datetime-local", step: 1, "aria-label": "as of (UTC)" });
  const out = h("div", {});
  const form = h("form", { class: "row", onsubmit: async (event) => {
    event.preventDefault();
    if (product.value.trim() !== productId) {
      location.hash = "#/stock/" + encodeURIComponent(product.value.trim());
      return;
    }
    const instant = when.value ? new Date(when.value + "Z").toISOString() : new Date().toISOString();
    try {
      const stock = await api(`/api/v1/admin/products/${encodeURIComponent(productId)}/stock?as_of=${encodeURIComponent(instant)}`);
      out.replaceChildren(h("p", { class: "muted" }, "As of " + time(instant)),
        h("div", { class: "stats" },
          h("div", { class: "stat" }, "On hand", h("b", {}, stock.on_hand)),
          h("div", { class: "stat" }, "Reserved", h("b", {}, stock.reserved)),
          h("div", { class: "stat" }, "Available", h("b", { "data-testid": "stock-available" }, stock.available))));
    } catch (error) {
      out.replaceChildren(errorLine(error));
    }
  } }, product, when, h("button", { type: "submit" }, "Show"));
  const root = h("div", {}, card("Stock as of an instant (UTC; empty: now)", form, out));
  if (productId) root.append(stockMoves(productId));
  return root;
}

function stockMoves(productId) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  api(`/api/v1/admin/products/${encodeURIComponent(productId)}/stock/moves?limit=500`).then((moves) => {
    if (!moves.length) {
      body.replaceChildren(h("p", { class: "muted" }, "No stock moves yet."));
      return;
    }
    const points = (field) => moves.map((move) => [Date.parse(move.recorded_at), move[field]]);
    // The chart ends at the last move (the server's clock), not at this browser's now.
    const from = Date.parse(moves[0].recorded_at);
    const to = Math.max(Date.parse(moves[moves.length - 1].recorded_at), from + 1000);
    body.replaceChildren(
      lineChart({
        series: [{ name: "on hand", points: points("on_hand") }, { name: "reserved", points: points("reserved") }, { name: "available", points: points("available") }],
        from, to, yLabel: "units", xLabels: [time(moves[0].recorded_at), time(moves[moves.length - 1].recorded_at)], steps: true, label: "stock over time",
      }),
      table(["When", "Move", "Units", "Order", "Who", "On hand", "Reserved", "Available"],
        moves.slice(-50).reverse().map((move) => h("tr", { "data-testid": "stock-move" },
          h("td", { class: "mono" }, time(move.recorded_at)),
          h("td", {}, h("b", {}, move.type)),
          h("td", { class: "num" }, move.quantity),
          h("td", { class: "mono" }, move.order_id
            ? h("a", { href: "#/orders/" + move.order_id, title: move.order_id }, move.order_id.slice(0, 8) + "…") : ""),
          h("td", {}, who(move.actor)),
          h("td", { class: "num" }, move.on_hand),
          h("td", { class: "num" }, move.reserved),
          h("td", { class: "num" }, move.available)))),
      h("p", { class: "hint" }, `The latest ${moves.length} moves; the table shows the newest 50.`));
  }).catch((error) => body.replaceChildren(errorLine(error)));
  return card("Stock over its latest moves", body);
}

// Audit: verify, seals, export.

/** The verification this tab is running, if any: called off when the page changes. */
let verification = null;

function auditView() {
  const result = h("div", {});
  const readModels = h("input", { type: "checkbox", checked: true, id: "read-models" });
  const cancel = h("button", { type: "button", class: "secondary", hidden: true, "data-testid": "cancel-verify",
    onclick: () => verification && verification.abort() }, "Cancel");
  const run = h("button", { type: "button", "data-testid": "run-verify", onclick: async () => {
    run.disabled = true;
    cancel.hidden = false;
    const running = new AbortController();
    verification = running;
    const passes = readModels.checked ? 4 : 3;
    const started = Date.now();
    const bar = h("div", { style: "width: 0%" });
    const label = h("span", { class: "muted", "data-testid": "verify-progress" }, "Starting…");
    result.replaceChildren(h("div", { class: "row", "data-testid": "verify-running" },
      h("div", { class: "progress grow" }, bar), label));
    // A pass may go minutes without a line (comparing a large read model): the clock
    // keeps moving so the page does not look stuck.
    let stage = "Starting…";
    const paint = () => { label.textContent = `${stage}, ${Math.round((Date.now() - started) / 1000)} s`; };
    const ticker = setInterval(paint, 1000);
    let outcome = null;
    try {
      const response = await api("/api/v1/admin/audit/verify/stream?read_models=" + readModels.checked,
        { raw: true, signal: running.signal });
      await readLines(response, (line) => {
        if (line.progress) {
          const { pass, done, total } = line.progress;
          const share = total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 100;
          bar.style.width = share + "%";
          const unit = { streams: "events", seals: "events", read_models: "projections" }[pass];
          stage = PASS_NAMES[pass].replace("?", passes) + (unit ? `: ${done} of ${total} ${unit} (${share}%)` : "");
          paint();
        } else if (line.report) {
          outcome = verifyReport(line.report);
        } else if (line.error) {
          outcome = errorLine(new ApiError(line.error.code, "The verification could not finish: " + line.error.message));
        }
      });
      result.replaceChildren(outcome || errorLine("The verification stopped without a report: the connection closed."));
    } catch (error) {
      result.replaceChildren(error.name === "AbortError" ? h("p", { class: "muted", "data-testid": "verify-cancelled" }, "Cancelled.") : errorLine(error));
    } finally {
      clearInterval(ticker);
      // Hanging up calls the verification off on the server, whatever ended it here.
      running.abort();
      if (verification === running) verification = null;
      cancel.hidden = true;
      run.disabled = false;
    }
  } }, "Run verify");
  const seals = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  api("/api/v1/admin/audit/seals?size=50").then((page) => {
    // Through h(), which skips an absent child (replaceChildren would print "null").
    seals.replaceChildren(h("div", {}, page.list.length ? table(["Seal", "Up to position", "Events", "Cumulative hash", "Sealed at"],
      page.list.map((seal) => h("tr", { "data-testid": "seal" },
        h("td", { class: "num" }, seal.seal_id),
        h("td", { class: "num" }, seal.global_position),
        h("td", { class: "num" }, seal.event_count),
        h("td", { class: "mono" }, seal.cumulative_hash),
        h("td", { class: "mono" }, time(seal.sealed_at))))) : h("p", { class: "muted" }, "No seals yet."),
      page.list.length ? h("p", { class: "hint" }, `${page.pagination.total} seals in all; the newest 50 shown.`) : null));
  }).catch((error) => seals.replaceChildren(errorLine(error)));
  const from = h("input", { type: "datetime-local", step: 1, "aria-label": "from (UTC)" });
  const to = h("input", { type: "datetime-local", step: 1, "aria-label": "to (UTC)" });
  const exported = h("span", { class: "muted" });
  const exportForm = h("form", { class: "row", onsubmit: async (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (from.value) query.set("from", new Date(from.value + "Z").toISOString());
    if (to.value) query.set("to", new Date(to.value + "Z").toISOString());
    exported.textContent = "Exporting…";
    try {
      const response = await api("/api/v1/admin/audit/export?" + query, { raw: true });
      const blob = await response.blob();
      const link = h("a", { href: URL.createObjectURL(blob), download: "ordo-export.ndjson" }, `Download ordo-export.ndjson (${blob.size} bytes)`);
      exported.replaceChildren(link);
      link.click();
      // The file is the browser's once downloaded; the object URL need not outlive a minute.
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    } catch (error) {
      exported.replaceChildren(errorLine(error));
    }
  } }, h("label", {}, "From ", from), h("label", {}, "to ", to), h("button", { type: "submit" }, "Export NDJSON"), exported);
  return h("div", {},
    card("Verify the log", h("div", { class: "row" }, run, cancel, h("label", { for: "read-models" }, readModels, " compare the read models with a replay")),
      h("p", { class: "hint" }, "Checks every hash chain and seal, each stream's transitions, the stock invariants and (optionally) that each read model equals a replay."),
      result),
    card("Seals (newest first; keep their hashes elsewhere too)", seals),
    card("Export a time range (UTC; empty: everything)", exportForm));
}

/** What each pass of a verification does ("?" is the number of passes run). */
const PASS_NAMES = {
  streams: "1/? every stream's hashes, sequence and invariants",
  seals: "2/? the feed's cumulative hash at each seal",
  references: "3/? stock moves against their orders",
  read_models: "4/? each read model against a replay",
};

/** Reads an NDJSON answer as it arrives, calling `onLine` with each parsed line. */
async function readLines(response, onLine) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (pending + value).split("\n");
    pending = lines.pop();
    for (const line of lines) if (line.trim()) onLine(JSON.parse(line));
  }
  if (pending.trim()) onLine(JSON.parse(pending));
}

function verifyReport(report) {
  return h("div", {},
    h("p", { class: "result " + (report.ok ? "ok" : "bad"), "data-testid": "verify-result" },
      report.ok ? "ok" : `failed: ${report.failure_count} failure(s)` +
        (report.first_failure_position === null ? "" : `, the first at position ${report.first_failure_position}`)),
    h("p", { class: "muted" }, `${report.events} events in ${report.streams} streams, ${report.seals} seals, in ${report.seconds.toFixed(2)} s`),
    report.failures.length ? table(["Kind", "Position", "Stream", "What"], report.failures.map((failure) => h("tr", { "data-testid": "verify-failure" },
      h("td", {}, h("span", { class: "badge bad" }, failure.kind)),
      h("td", { class: "num" }, failure.position ?? ""),
      h("td", { class: "mono" }, failure.stream || ""),
      h("td", {}, failure.message)))) : null);
}

// Payments: notices as they arrived and what became of them.

function paymentsView() {
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  api("/api/v1/admin/payments/notices?size=50").then((page) => {
    list.replaceChildren(page.list.length ? table(["Received", "Kind", "Outcome", "Order", "Amount", "Transaction", "Reason"],
      page.list.map((notice) => h("tr", {},
        h("td", { class: "mono" }, time(notice.received_at)),
        h("td", {}, notice.kind, notice.refund_no ? h("div", { class: "muted mono" }, notice.refund_no) : null),
        h("td", {}, h("span", { class: "badge " + (notice.outcome === "accepted" ? "ok" : notice.outcome === "duplicate" ? "warn" : "bad") }, notice.outcome)),
        h("td", { class: "mono" }, notice.order_id ? h("a", { href: "#/orders/" + notice.order_id }, notice.order_id) : ""),
        h("td", { class: "num" }, yuan(notice.amount_cents)),
        h("td", { class: "mono wide" }, notice.transaction_id || ""),
        h("td", {}, notice.reason || "")))) : h("p", { class: "muted" }, "No notices yet."),
    h("p", { class: "hint" }, `${page.pagination.total} notices in all; the newest 50 shown.`));
  }).catch((error) => list.replaceChildren(errorLine(error)));
  const owing = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  api("/api/v1/admin/refunds-due?size=50")
    .then((page) => owing.replaceChildren(orderList(page, "No order holds a payment it could not take, and no refund is stuck.")))
    .catch((error) => owing.replaceChildren(errorLine(error)));
  return h("div", {},
    card("Refunds due: payments orders could not take, refunds stuck", owing,
      h("p", { class: "hint" }, "Paid after the order was cancelled, or paid twice: refund them from the order (POST /admin/orders/{id}/refund). " +
        "Abnormal: WeChat Pay could not pay the refund into the shopper's account; handle it on the merchant platform, and its success lands here by itself.")),
    card("Payment and refund notices", list));
}

// ---- start -----------------------------------------------------------------------------

/** Ends `used` on the server (a copy of it elsewhere stops working too). */
function revoke(used) {
  return fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: "Bearer " + used } })
    .catch(() => null);
}

/** Signs out: the token is revoked, then forgotten. */
function signOutByChoice() {
  const used = token();
  signOut("Signed out.");
  if (used) revoke(used);
}

async function start() {
  render((await signInFromFragment()) || undefined);
}

document.getElementById("sign-out").addEventListener("click", signOutByChoice);
window.addEventListener("hashchange", () => {
  if (location.hash.startsWith("#token=")) start();
  else render();
});
start();
