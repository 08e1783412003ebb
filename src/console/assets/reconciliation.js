// Reconciliation: each day's comparison of WeChat Pay's bill with the log. A calendar of
// the month with each day's state, and the chosen day's totals and differences; a day can
// be run (again) from here, as `ordo reconcile --date` would.
"use strict";

/** WeChat Pay keeps a bill this many days (the API refuses older days). */
const BILLS_KEPT_DAYS = 90;
const STATE_BADGES = { matched: "ok", differences: "warn", failed: "bad", queued: "" };
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** Today in Beijing time (`YYYY-MM-DD`): WeChat Pay cuts its bills by it. */
function beijingToday() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

/** `day` (`YYYY-MM-DD`) moved by `days`. */
function addDays(day, days) {
  const date = new Date(day + "T00:00:00Z");
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

function isDay(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(text + "T00:00:00Z"));
}

function reconciliationView(argument) {
  const today = beijingToday();
  // Yesterday's bill is the newest complete one: the day finance looks at first.
  const day = isDay(argument) ? argument : addDays(today, -1);
  const calendar = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const report = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  showMonth(calendar, day, today);
  showDay(report, day, today);
  return h("div", {},
    card("Days", calendar,
      h("p", { class: "hint" }, "Green: the bill and the log agree. Amber: differences, listed with the day. " +
        "Red: the run failed (the bill could not be fetched or read) and says why. " +
        "ordo reconciles yesterday by itself every morning (ORDO_RECONCILE_AT, Beijing time).")),
    card("Reconciliation of " + day, report));
}

/** The month of `day` as a calendar, Monday first, each reconciled day coloured by its state. */
async function showMonth(root, day, today) {
  const first = day.slice(0, 8) + "01";
  const next = addDays(first, 32).slice(0, 8) + "01";
  const last = addDays(next, -1);
  let days;
  try {
    days = await api("/api/v1/admin/reconciliations/days?month=" + first.slice(0, 7));
  } catch (error) {
    root.replaceChildren(errorLine(error));
    return;
  }
  const byDate = Object.fromEntries(days.map((entry) => [entry.date, entry]));
  const cells = [];
  // Monday is 0: getUTCDay() counts from Sunday.
  const offset = (new Date(first + "T00:00:00Z").getUTCDay() + 6) % 7;
  for (let i = 0; i < offset; i += 1) cells.push(h("td", {}));
  for (let date = first; date <= last; date = addDays(date, 1)) {
    const entry = byDate[date];
    const title = entry
      ? `${entry.state}: ${entry.matched} matched, ${entry.differences} difference(s)`
      : date > today ? "no bill yet" : "not reconciled";
    cells.push(h("td", {}, h("a", {
      href: "#/reconciliation/" + date,
      class: [entry ? entry.state : "", date === day ? "chosen" : "", date > today ? "later" : ""].join(" ").trim() || null,
      title,
      "data-testid": "day-" + date,
      "data-state": entry ? entry.state : "none",
    }, String(Number(date.slice(8))))));
  }
  const rows = [];
  for (let i = 0; i < cells.length; i += 7) rows.push(h("tr", {}, cells.slice(i, i + 7)));
  const previous = addDays(first, -1).slice(0, 8) + "01";
  root.replaceChildren(
    h("div", { class: "row calendar-nav" },
      h("a", { href: "#/reconciliation/" + previous, "data-testid": "previous-month" }, "← " + previous.slice(0, 7)),
      h("b", { class: "grow" }, first.slice(0, 7)),
      next <= today ? h("a", { href: "#/reconciliation/" + next, "data-testid": "next-month" }, next.slice(0, 7) + " →") : null),
    h("table", { class: "calendar" },
      h("thead", {}, h("tr", {}, WEEKDAYS.map((name) => h("th", {}, name)))),
      h("tbody", {}, rows)));
}

/** The report of `day`: both sides' totals, every difference, and a button to run it (again). */
async function showDay(root, day, today) {
  const runnable = day <= today && day >= addDays(today, -BILLS_KEPT_DAYS);
  const run = h("button", { type: "button", "data-testid": "reconcile-day", disabled: !runnable }, "Reconcile this day");
  const status = h("span", { class: "muted", "data-testid": "reconcile-status" });
  run.addEventListener("click", async () => {
    run.disabled = true;
    status.textContent = "Queued: the server is fetching the bill…";
    try {
      await api("/api/v1/admin/reconciliations", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ date: day }),
      });
      waitForRun(day);
    } catch (error) {
      status.textContent = "";
      run.disabled = false;
      root.append(errorLine(error));
    }
  });
  const actions = h("div", { class: "row" }, run, status,
    runnable ? null : h("span", { class: "muted" }, day > today ? "This day has no bill yet." : "WeChat Pay keeps bills for three months only."));

  let report;
  try {
    report = await api("/api/v1/admin/reconciliations?date=" + day);
  } catch (error) {
    if (error.status !== 404) {
      root.replaceChildren(errorLine(error), actions);
      return;
    }
    root.replaceChildren(h("p", { "data-testid": "report-state" }, "Not reconciled yet."), actions);
    return;
  }
  if (report.state === "queued") {
    status.textContent = "Queued: waiting for the server's run…";
    run.disabled = true;
    waitForRun(day);
  }
  run.textContent = "Reconcile again";
  // Through h(): replaceChildren would show a left-out part as the text "null".
  root.replaceChildren(h("div", {},
    h("p", {},
      h("span", { class: "badge " + (STATE_BADGES[report.state] || ""), "data-testid": "report-state" }, report.state),
      " ", h("span", { class: "muted" }, report.ran_at ? `ran ${time(report.ran_at)}, ${report.runs} run(s)` : "not run yet")),
    report.error ? h("p", { class: "error", "data-testid": "report-error" }, report.error) : null,
    totals(report),
    report.differences.length
      ? table(["Kind", "Order", "WeChat Pay", "ordo", "Detail"], report.differences.map((difference) =>
        h("tr", { "data-testid": "difference" },
          h("td", {}, h("span", { class: "badge " + (difference.kind.includes("missing_in_ordo") ? "bad" : "warn") }, difference.kind)),
          h("td", { class: "mono" }, difference.order_id
            ? h("a", { href: "#/orders/" + difference.order_id }, difference.order_id)
            : difference.out_trade_no),
          h("td", { class: "num" }, yuan(difference.wechat_cents)),
          h("td", { class: "num" }, yuan(difference.ordo_cents)),
          h("td", {}, difference.detail))))
      : report.state === "matched" ? h("p", { class: "result ok" }, "Every payment and refund of the day matches.") : null,
    actions));
}

/** The two sides' counts and totals, side by side. */
function totals(report) {
  const side = (name, figures, testid) => h("div", { class: "stat", "data-testid": testid },
    h("span", { class: "muted" }, name),
    h("b", {}, yuan(figures.total_cents || 0)),
    h("span", {}, `${figures.payments || 0} payment(s), ${figures.refunds || 0} refund(s) of ${yuan(figures.refunded_cents || 0)}`));
  return h("div", { class: "stats" },
    side("WeChat Pay's bill", report.wechat, "wechat-totals"),
    side("ordo's log", report.ordo, "ordo-totals"),
    h("div", { class: "stat" }, h("span", { class: "muted" }, "matched"), h("b", { "data-testid": "matched" }, report.matched),
      h("span", {}, `${report.differences.length} difference(s)`)));
}

/** Polls the day's report until its run is kept, then shows the page again. */
function waitForRun(day) {
  poll(POLL_MS, async (current) => {
    const report = await api("/api/v1/admin/reconciliations?date=" + day).catch(() => null);
    if (current() && report && report.state !== "queued") render();
  });
}
