// The merchant's orders: every order of the shop by status, with the counts the tabs show
// ("to ship: 37"), searched, paged newest first; the list as CSV; and a day's parcels
// shipped from a CSV of order id, delivery id and tracking number.
"use strict";

const SHOP_TABS = [
  ["", "All"], ["awaiting_payment", "Awaiting payment"], ["paid", "To ship"], ["shipped", "Shipped"],
  ["completed", "Completed"], ["cancelled", "Cancelled"], ["refunding", "Refunding"], ["refunded", "Refunded"],
];

function shopView(argument) {
  const status = SHOP_TABS.some(([name]) => name === argument) ? argument : "";
  const search = h("input", { type: "search", placeholder: "order id, receiver, phone or product", "aria-label": "search", "data-testid": "shop-search" });
  const tabs = h("div", { class: "row", "data-testid": "shop-tabs" });
  const list = h("div", {});
  const more = h("div", {});
  const query = () => {
    const params = new URLSearchParams();
    if (status) params.set("status", status);
    if (search.value.trim()) params.set("q", search.value.trim());
    return params;
  };
  let shown = query();
  let loading = false;
  const load = async (cursor) => {
    // "More" continues the list shown (its search), never the box's edited text, once.
    if (loading) return;
    loading = true;
    if (!cursor) shown = query();
    const params = new URLSearchParams(shown);
    params.set("size", "50");
    if (cursor) params.set("cursor", cursor);
    try {
      const page = await api("/api/v1/admin/orders?" + params);
      tabs.replaceChildren(...SHOP_TABS.map(([name, label]) => {
        const count = name ? page.counts[name] || 0 : Object.values(page.counts).reduce((a, b) => a + b, 0);
        return h("a", { href: "#/shop/" + name, class: "badge" + (name === status ? " ok" : ""), "data-testid": "tab-" + (name || "all") }, `${label}: ${count}`);
      }));
      const rows = page.list.map(shopRow);
      if (cursor) list.querySelector("tbody").append(...rows);
      else list.replaceChildren(page.list.length
        ? table(["Placed", "Order", "Shopper", "Receiver", "Items", "Total", "Status"], rows)
        : h("p", { class: "muted" }, "No orders."));
      more.replaceChildren(page.next_cursor
        ? h("button", { type: "button", class: "secondary", "data-testid": "shop-more", onclick: () => load(page.next_cursor) }, "More")
        : "");
    } catch (error) {
      list.replaceChildren(errorLine(error));
    } finally {
      loading = false;
    }
  };
  const form = h("form", { class: "row", onsubmit: (event) => { event.preventDefault(); load(null); } },
    search, h("button", { type: "submit" }, "Search"),
    h("button", { type: "button", class: "secondary", "data-testid": "shop-export", onclick: () => exportCsv(query()) }, "Export CSV"));
  load(null);
  return h("div", {}, card("Orders", tabs, form, list, more), bulkShipping(() => load(null)));
}

function shopRow(order) {
  const address = order.address || {};
  return h("tr", { "data-testid": "shop-row" },
    h("td", { class: "mono" }, time(order.created_at)),
    h("td", { class: "mono" }, h("a", { href: "#/orders/" + order.id, title: order.id }, order.id.slice(0, 8) + "…")),
    h("td", {}, order.user_id),
    h("td", {}, `${address.name || ""} ${address.phone || ""}`),
    h("td", {}, order.lines.map((line) => {
      const spec = Object.values(line.spec || {}).join(" ");
      return h("div", {}, `${line.name}${spec ? " (" + spec + ")" : ""} × ${line.quantity}`);
    })),
    h("td", { class: "num" }, yuan(order.total_cents)),
    h("td", {}, order.status));
}

/** Downloads the list under the current filters as CSV (fetched with the console's token). */
async function exportCsv(params) {
  try {
    const response = await api("/api/v1/admin/orders/export?" + params, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: "orders.csv" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    alert("Export failed: " + error.message);
  }
}

/** Ships from a CSV of `order_id,express_company,tracking_no` (a header row is skipped),
 *  each row decided on its own and shown with its result. */
function bulkShipping(reload) {
  const file = h("input", { type: "file", accept: ".csv,text/csv", "aria-label": "shipments CSV", "data-testid": "ship-file" });
  const text = h("textarea", { rows: 4, placeholder: "order_id,express_company,tracking_no", "aria-label": "shipments", "data-testid": "ship-text" });
  const out = h("div", {});
  file.addEventListener("change", async () => {
    if (file.files[0]) text.value = await file.files[0].text();
  });
  const form = h("form", { class: "row", onsubmit: async (event) => {
    event.preventDefault();
    const shipments = text.value.replace(/^\ufeff/, "").split(/\r?\n/)
      .map((line) => line.split(",").map((field) => field.trim()))
      .filter((fields) => fields[0] && !/^order/i.test(fields[0]))
      .map(([order_id, express_company, tracking_no]) => ({ order_id, express_company, tracking_no }));
    if (!shipments.length) {
      out.replaceChildren(h("p", { class: "error" }, "No shipments: one line per parcel, order_id,express_company,tracking_no."));
      return;
    }
    try {
      const results = await api("/api/v1/admin/orders/shipments", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ shipments }),
      });
      const shipped = results.filter((result) => result.shipped).length;
      out.replaceChildren(h("p", { "data-testid": "ship-summary" }, `${shipped} shipped, ${results.length - shipped} refused.`),
        table(["Order", "Result"], results.map((result) => h("tr", { "data-testid": "ship-result" },
          h("td", { class: "mono" }, result.order_id),
          h("td", {}, result.shipped
            ? h("span", { class: "badge ok" }, "shipped")
            : h("span", {}, h("span", { class: "badge bad" }, "refused"), " ", result.error.message))))));
      reload();
    } catch (error) {
      out.replaceChildren(errorLine(error));
    }
  } }, file, text, h("button", { type: "submit", "data-testid": "ship-send" }, "Ship"));
  return card("Ship from a CSV", form, out);
}
