// The after-sales queue: the shoppers' requests by status with the tabs' counts, each with
// what it asks for (named from its order), and the merchant's decisions: approve (with an
// amount, or what the units were paid), reject with a reason, receive a return's goods.
"use strict";

const AFTER_SALE_TABS = [
  ["requested", "To decide"], ["awaiting_return", "Awaiting return"], ["return_shipped", "Return on its way"],
  ["refunding", "Refunding"], ["refunded", "Refunded"], ["refund_failed", "Refund failed"], ["rejected", "Rejected"], ["", "All"],
];

function afterSalesView(argument) {
  const status = AFTER_SALE_TABS.some(([name]) => name === argument) ? argument : "requested";
  const tabs = h("div", { class: "row", "data-testid": "after-sale-tabs" });
  const list = h("div", {});
  const more = h("div", {});
  // What the last decision did: kept above the list, which reloads after it.
  const notice = h("p", { "data-testid": "after-sale-result" });
  const decided = (message) => {
    notice.textContent = message;
    setTimeout(() => load(null), 300);
  };
  // Orders named by the page's lines, fetched once per order.
  const orders = new Map();
  const orderOf = (id) => {
    if (!orders.has(id)) orders.set(id, api(`/api/v1/admin/orders/${encodeURIComponent(id)}`).catch(() => null));
    return orders.get(id);
  };
  let loading = false;
  const load = async (cursor) => {
    if (loading) return;
    loading = true;
    const params = new URLSearchParams({ size: "20" });
    if (status) params.set("status", status);
    if (cursor) params.set("cursor", cursor);
    try {
      const page = await api("/api/v1/admin/after-sales?" + params);
      tabs.replaceChildren(...AFTER_SALE_TABS.map(([name, label]) => {
        const count = name ? page.counts[name] || 0 : Object.values(page.counts).reduce((a, b) => a + b, 0);
        return h("a", { href: "#/aftersales/" + name, class: "badge" + (name === status ? " ok" : ""), "data-testid": "after-sale-tab-" + (name || "all") }, `${label}: ${count}`);
      }));
      const named = await Promise.all(page.list.map((sale) => orderOf(sale.order_id)));
      const rows = page.list.map((sale, i) => afterSaleRow(sale, named[i], decided));
      if (cursor) list.querySelector("tbody").append(...rows);
      else list.replaceChildren(page.list.length
        ? table(["Asked", "After-sale", "Kind", "Items", "Reason", "Status", "Decision"], rows)
        : h("p", { class: "muted" }, "Nothing here."));
      more.replaceChildren(page.next_cursor
        ? h("button", { type: "button", class: "secondary", "data-testid": "after-sale-more", onclick: () => load(page.next_cursor) }, "More")
        : "");
    } catch (error) {
      list.replaceChildren(errorLine(error));
    } finally {
      loading = false;
    }
  };
  load(null);
  return card("After-sales", tabs, notice, list, more);
}

/** One request: what it asks for, where it stands, and what the merchant may do now. */
function afterSaleRow(sale, order, decided) {
  const lineOf = (sku) => order && order.lines.find((line) => line.sku_id === sku);
  const items = sale.lines.map((asked) => {
    const line = lineOf(asked.sku_id);
    if (!line) return h("div", { class: "mono" }, `${asked.sku_id.slice(0, 8)}… × ${asked.quantity}`);
    const spec = Object.values(line.spec || {}).join(" ");
    return h("div", {}, `${line.name}${spec ? " (" + spec + ")" : ""} × ${asked.quantity}`,
      h("span", { class: "muted" }, ` at ${yuan(line.unit_price_cents)}`));
  });
  const state = [h("span", { class: "badge" + (sale.status === "refunded" ? " ok" : sale.status === "refund_failed" ? " bad" : ""), "data-testid": "after-sale-status" }, sale.status)];
  if (sale.refund_cents !== null && sale.refund_cents !== undefined) state.push(" ", yuan(sale.refund_cents));
  if (sale.reject_reason) state.push(h("div", { class: "muted" }, "rejected: " + sale.reject_reason));
  if (sale.return_shipment) state.push(h("div", { class: "mono" }, `back by ${sale.return_shipment.express_company} ${sale.return_shipment.tracking_no}`));
  return h("tr", { "data-testid": "after-sale-row", "data-id": sale.id },
    h("td", { class: "mono" }, time(sale.requested_at)),
    h("td", { class: "mono" }, h("a", { href: "#/orders/" + sale.order_id, title: sale.order_id }, sale.id.slice(0, 8) + "…" + sale.id.slice(32))),
    h("td", {}, sale.kind === "return_refund" ? "return & refund" : "refund only"),
    h("td", {}, items),
    h("td", {}, sale.reason),
    h("td", {}, state),
    h("td", {}, afterSaleDecision(sale, decided)));
}

/** The merchant's buttons for a request in its current status (none once it is decided);
 *  `decided` is told what a decision did. */
function afterSaleDecision(sale, decided) {
  const out = h("div", {});
  const path = `/api/v1/admin/after-sales/${encodeURIComponent(sale.id)}`;
  const send = (action, payload) => api(`${path}/${action}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload || {}),
  }).then((after) => decided(`${sale.id.slice(32)}: now ${after.status}.`)).catch((error) => out.append(h("p", { class: "error", "data-testid": "after-sale-error" }, error.message)));
  if (sale.status === "requested") {
    const amount = h("input", { type: "text", inputmode: "decimal", placeholder: "¥ (what they were paid)", "aria-label": "refund amount in yuan", "data-testid": "approve-amount" });
    const reason = h("input", { type: "text", placeholder: "why not (the shopper reads it)", "aria-label": "reject reason", "data-testid": "reject-reason" });
    out.append(
      h("form", { class: "row", onsubmit: (event) => {
        event.preventDefault();
        const typed = amount.value.trim();
        if (typed && !/^\d+(\.\d{1,2})?$/.test(typed)) {
          out.append(h("p", { class: "error", "data-testid": "after-sale-error" }, "The amount is yuan with at most two decimals, e.g. 12.50."));
          return;
        }
        send("approve", typed ? { refund_cents: Math.round(Number(typed) * 100) } : {});
      } }, amount, h("button", { type: "submit", "data-testid": "approve" }, sale.kind === "return_refund" ? "Approve the return" : "Approve and refund")),
      h("form", { class: "row", onsubmit: (event) => {
        event.preventDefault();
        send("reject", { reason: reason.value.trim() });
      } }, reason, h("button", { type: "submit", class: "secondary", "data-testid": "reject" }, "Reject")));
  } else if (sale.status === "awaiting_return" || sale.status === "return_shipped") {
    out.append(h("button", { type: "button", "data-testid": "receive", onclick: () => {
      if (confirm(`The goods of ${sale.id.slice(32)} arrived? Their units go back to stock and ${yuan(sale.refund_cents)} is refunded.`)) send("receive");
    } }, "Goods received"));
  }
  return out;
}
