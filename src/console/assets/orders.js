// Orders: one order's timeline, and its state as of any instant on a slider.
"use strict";

const SLIDER_REST_MS = 150;

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
    h("p", { class: "hint" }, listedHint(page)));
}

/** How much of the list a page shows: a numbered page, or a keyset page with its counts. */
function listedHint(page) {
  if (page.pagination) {
    return `${page.pagination.total} in all; the newest ${Math.min(page.pagination.size, page.pagination.total)} shown.`;
  }
  const total = Object.values(page.counts).reduce((sum, n) => sum + n, 0);
  return `${total} in all; the newest ${page.list.length} shown.`;
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
  // A stock stream is a SKU's: its page is the product's, picked to that SKU.
  const productOf = {};
  for (const entry of history) {
    const placed = entry.type === "OrderPlaced" && entry.payload.OrderPlaced;
    if (placed) for (const line of placed.lines) productOf[line.sku_id || line.product_id] = line.product_id;
  }
  const stockLink = (sku) => "#/stock/" + (productOf[sku] || sku) + "/" + sku;
  root.insertBefore(orderActions(orderId), timeline);
  timeline.replaceChildren(h("h2", {}, "Timeline"), table(
    ["When", "Event", "Stream", "Who", "Request", "Details"],
    history.map((entry) => h("tr", { "data-testid": "timeline-event" },
      h("td", { class: "mono" }, time(entry.recorded_at)),
      h("td", {}, h("b", {}, entry.type)),
      h("td", { class: "mono" }, entry.aggregate_type === "Stock"
        ? h("a", { href: stockLink(entry.aggregate_id), title: entry.aggregate_id }, `Stock ${entry.aggregate_id.slice(0, 8)}… v${entry.version}`)
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
      h("td", {}, line.name, " ", Object.values(line.spec || {}).join(" "), " ", h("span", { class: "muted mono" }, line.sku_id || line.product_id)),
      h("td", { class: "num" }, line.quantity),
      h("td", { class: "num" }, yuan(line.unit_price_cents))))),
    h("p", { class: "hint" }, "Stock of its products then:"),
    table(["SKU", "On hand", "Reserved", "Available"], then.stocks.map((stock) => h("tr", {},
      h("td", { class: "mono" }, h("a", { href: `#/stock/${stock.product_id}/${stock.sku_id}` }, stock.sku_id)),
      h("td", { class: "num" }, stock.on_hand),
      h("td", { class: "num" }, stock.reserved),
      h("td", { class: "num" }, stock.available)))));
}

/** What the merchant does with the order now: ship it when paid (WeChat's delivery id and
 *  tracking number), refund all or part of it when paid, shipped or completed. */
function orderActions(orderId) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const path = `/api/v1/admin/orders/${encodeURIComponent(orderId)}`;
  const done = (what) => (result) => {
    body.replaceChildren(h("p", { "data-testid": "action-result" }, `${what}: now ${result.status}.`));
    setTimeout(() => render(), 800);
  };
  const failed = (error) => body.append(h("p", { class: "error", "data-testid": "action-error" }, error.message));
  const send = (url, payload) => api(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
  });
  Promise.all([api(path), api("/api/v1/admin/delivery-companies")]).then(([order, companies]) => {
    const parts = [h("p", {}, "Status ", h("b", { "data-testid": "action-status" }, order.status))];
    if (order.status === "paid") {
      const company = h("select", { "aria-label": "delivery company", "data-testid": "ship-company" },
        ...companies.map((c) => h("option", { value: c.delivery_id }, `${c.delivery_name} (${c.delivery_id})`)));
      const tracking = h("input", { type: "text", placeholder: "tracking number", "aria-label": "tracking number", "data-testid": "ship-tracking" });
      parts.push(h("form", { class: "row", onsubmit: (event) => {
        event.preventDefault();
        send(path + "/ship", { express_company: company.value, tracking_no: tracking.value.trim() })
          .then(done("Shipped")).catch(failed);
      } }, company, tracking, h("button", { type: "submit", "data-testid": "ship-order" }, "Ship")));
    }
    if (order.status === "paid" || order.status === "shipped" || order.status === "completed") {
      // Empty: the whole of what is left; an amount: a partial refund of the payment.
      const amount = h("input", { type: "text", inputmode: "decimal", placeholder: "¥ (empty: all that is left)", "aria-label": "refund amount in yuan", "data-testid": "refund-amount" });
      const reason = h("input", { type: "text", placeholder: "reason (the shopper sees it)", "aria-label": "refund reason", "data-testid": "refund-reason" });
      parts.push(h("form", { class: "row", onsubmit: (event) => {
        event.preventDefault();
        const typed = amount.value.trim();
        if (typed && !/^\d+(\.\d{1,2})?$/.test(typed)) {
          failed(new Error("The amount is yuan with at most two decimals, e.g. 12.50."));
          return;
        }
        const payload = { reason: reason.value.trim() };
        if (typed) payload.refund_cents = Math.round(Number(typed) * 100);
        if (!confirm(typed ? `Refund ¥${typed} to the shopper?` : "Refund all that is left of the payment to the shopper?")) return;
        send(path + "/refund", payload).then(done("Refund sent")).catch(failed);
      } }, amount, reason, h("button", { type: "submit", class: "secondary", "data-testid": "refund-order" }, "Refund")));
    }
    body.replaceChildren(...parts);
  }).catch((error) => body.replaceChildren(errorLine(error)));
  return card("Actions", body);
}
