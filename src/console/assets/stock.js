// Stock: a product's stock as of an instant, and its latest moves as a chart.
"use strict";

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
