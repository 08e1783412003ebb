// Health: each projection's state, position and lag, refreshed live, and rebuilds.
"use strict";

const LAG_WINDOW_MS = 5 * 60 * 1000;

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
      p.replayable === false ? calls(p) : h("td", {}, progress,
        h("button", {
          type: "button", class: "secondary", "data-testid": "rebuild-" + p.name,
          disabled: p.state === "rebuilding" || (rebuild && rebuild.pending) || null,
          onclick: (event) => {
            event.target.disabled = true;
            startRebuild(p);
          },
        }, "Rebuild")));
  });
  return table(["Projection", "State", "Version", "Position / head", "Lag (events)", "Lag (seconds)", "Parked", "Blue/green rebuild (read models) / calls to WeChat"], rows,
    { "data-testid": "projections" });
}

/** A subscriber that calls WeChat is never rebuilt: its calls waiting and failed instead. */
function calls(p) {
  const backlog = p.backlog || { pending: 0, failed: 0, done_last_hour: 0, oldest_pending_seconds: 0 };
  return h("td", { "data-testid": "calls-" + p.name },
    h("span", { class: "badge " + (backlog.failed ? "bad" : backlog.pending ? "warn" : "ok") },
      `${backlog.pending} waiting, ${backlog.failed} failed`),
    h("span", { class: "muted" }, ` ${backlog.done_last_hour} made in the last hour` +
      (backlog.pending ? `, the oldest waiting ${backlog.oldest_pending_seconds.toFixed(0)} s` : "")),
    backlog.failed ? h("div", {}, h("a", { href: "#/platform" }, "see the failed calls")) : null);
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
