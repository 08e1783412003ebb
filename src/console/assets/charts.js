// Line charts drawn in SVG (health's lag and order rates, stock moves).
"use strict";

const COLORS = ["#2456c7", "#1e7d46", "#b3261e", "#9a6700", "#7b3fb5", "#00838f"];

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
