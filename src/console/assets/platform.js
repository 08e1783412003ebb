// Platform: the calls ordo makes to WeChat because of what happened (shipping info
// uploads): those WeChat refused, to fix and retry, those waiting, and in dev mode what
// the simulated platform received.
"use strict";

function platformView() {
  const failed = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const waiting = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const simulated = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const load = () => {
    api("/api/v1/admin/shipping-uploads?state=failed").then((calls) => failed.replaceChildren(calls.length
      ? table(["Order", "Since", "Attempts", "Why WeChat refused it", ""], calls.map((call) => h("tr", { "data-testid": "failed-upload" },
        h("td", { class: "mono" }, h("a", { href: "#/orders/" + call.order_id }, call.order_id)),
        h("td", { class: "mono" }, time(call.created_at)),
        h("td", { class: "num" }, call.attempts),
        h("td", { class: "error" }, call.last_error || ""),
        h("td", {}, h("button", {
          type: "button", class: "secondary", "data-testid": "retry-" + call.order_id,
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              await api(`/api/v1/admin/orders/${call.order_id}/shipping-upload/retry`, { method: "POST" });
              load();
            } catch (error) {
              event.target.replaceWith(errorLine(error));
            }
          },
        }, "Retry")))))
      : h("p", { class: "result ok", "data-testid": "no-failed-uploads" }, "No upload failed.")))
      .catch((error) => failed.replaceChildren(errorLine(error)));
    api("/api/v1/admin/shipping-uploads?state=pending").then((calls) => waiting.replaceChildren(calls.length
      ? table(["Order", "Since", "Attempts", "Last error"], calls.map((call) => h("tr", {},
        h("td", { class: "mono" }, h("a", { href: "#/orders/" + call.order_id }, call.order_id)),
        h("td", { class: "mono" }, time(call.created_at)),
        h("td", { class: "num" }, call.attempts),
        h("td", {}, call.last_error || ""))))
      : h("p", { class: "muted" }, "Nothing waiting.")))
      .catch((error) => waiting.replaceChildren(errorLine(error)));
    api("/api/v1/dev/wechat-calls").then((calls) => simulated.replaceChildren(calls.length
      ? table(["Received", "API", "errcode", "Request"], calls.map((call) => h("tr", { "data-testid": "simulated-call" },
        h("td", { class: "mono" }, time(call.received_at)),
        h("td", {}, call.api),
        h("td", { class: "num" }, h("span", { class: "badge " + (call.errcode === 0 ? "ok" : "bad") }, call.errcode)),
        h("td", {}, h("details", {}, h("summary", {}, "body"), h("pre", {}, JSON.stringify(call.request, null, 2)))))))
      : h("p", { class: "muted" }, "No call yet.")))
      .catch((error) => simulated.replaceChildren(h("p", { class: "muted" },
        error.status === 403 ? "WeChat's real platform is configured: nothing is simulated." : error.message)));
  };
  load();
  return h("div", {},
    card("Shipping uploads WeChat refused", failed,
      h("p", { class: "hint" }, "Until an order's shipping info is uploaded, WeChat keeps the shop's money frozen. " +
        "Fix the cause (a delivery id, by shipping the order again with the right one; the mini program's IP whitelist; the payer), then Retry.")),
    card("Waiting to be uploaded", waiting),
    card("Simulated WeChat platform (dev mode)", simulated));
}
