// Stock: a SKU's stock as of an instant, and its latest moves as a chart. A product with
// specs has a stock per SKU: the page picks one (#/stock/<product>/<sku>); a product
// without specs is its one SKU.
"use strict";

function stockView(argument) {
  const [productId = "", chosenSku = ""] = argument.split("/");
  const product = h("input", { type: "text", placeholder: "product id (UUID)", value: productId, "aria-label": "product id" });
  const when = h("input", { type: "datetime-local", step: 1, "aria-label": "as of (UTC)" });
  const picker = h("div", {});
  const out = h("div", {});
  const moves = h("div", {});
  let skuId = chosenSku || productId;
  const stockPath = () => `/api/v1/admin/products/${encodeURIComponent(productId)}/skus/${encodeURIComponent(skuId)}/stock`;
  const form = h("form", { class: "row", onsubmit: async (event) => {
    event.preventDefault();
    if (product.value.trim() !== productId) {
      location.hash = "#/stock/" + encodeURIComponent(product.value.trim());
      return;
    }
    const instant = when.value ? new Date(when.value + "Z").toISOString() : new Date().toISOString();
    try {
      const stock = await api(`${stockPath()}?as_of=${encodeURIComponent(instant)}`);
      out.replaceChildren(h("p", { class: "muted" }, "As of " + time(instant)),
        h("div", { class: "stats" },
          h("div", { class: "stat" }, "On hand", h("b", {}, stock.on_hand)),
          h("div", { class: "stat" }, "Reserved", h("b", {}, stock.reserved)),
          h("div", { class: "stat" }, "Available", h("b", { "data-testid": "stock-available" }, stock.available))));
    } catch (error) {
      out.replaceChildren(errorLine(error));
    }
  } }, product, when, h("button", { type: "submit" }, "Show"));
  const root = h("div", {}, card("Stock as of an instant (UTC; empty: now)", form, picker, out), moves);
  if (!productId) return root;
  api(`/api/v1/products/${encodeURIComponent(productId)}`).then((found) => {
    if (!chosenSku) skuId = found.skus[0].id;
    if (found.skus.length > 1) picker.replaceChildren(skuPicker(productId, found.skus, skuId));
    moves.replaceChildren(stockMoves(stockPath()));
  }).catch((error) => picker.replaceChildren(errorLine(error)));
  return root;
}

// The SKUs of a product with specs, each with what is available; picking one opens its
// stock.
function skuPicker(productId, skus, skuId) {
  const label = (sku) => Object.entries(sku.spec).map(([name, value]) => `${name} ${value}`).join(", ");
  const select = h("select", { "aria-label": "SKU", "data-testid": "sku-picker", onchange: () => {
    location.hash = `#/stock/${encodeURIComponent(productId)}/${encodeURIComponent(select.value)}`;
  } }, ...skus.map((sku) => h("option", { value: sku.id, selected: sku.id === skuId },
    `${label(sku)} · ${sku.available} available${sku.on_sale ? "" : " · off sale"}`)));
  return h("p", { class: "row" }, "SKU ", select);
}

function stockMoves(stockPath) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  api(`${stockPath}/moves?limit=500`).then((moves) => {
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
