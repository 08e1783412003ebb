// Payments: notices as they arrived and what became of them.
"use strict";

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
