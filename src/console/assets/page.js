// Building the console's pages: elements from text (nothing from the API is parsed as
// HTML), tables, figures, and the view shown for the address's `#/view/argument`.
"use strict";

const POLL_MS = 2000;

// ---- building the page (text only: nothing from the API is parsed as HTML) --------------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    // Through the CSSOM: the page's policy refuses style attributes in markup.
    else if (name === "style") element.style.cssText = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children.flat()) {
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function card(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

function table(headers, rows, attributes = {}) {
  return h("table", attributes,
    h("thead", {}, h("tr", {}, headers.map((title) =>
      h("th", { class: /^(lag|position|version|parked|on hand|reserved|available|amount|events)/i.test(title) ? "num" : null }, title)))),
    h("tbody", {}, rows));
}

function errorLine(error) {
  return h("p", { class: "error", "data-testid": "error" }, String(error.message || error));
}

function time(value) {
  if (!value) return "";
  const date = new Date(value);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Who caused an event: `id (role)`, or nothing when the event does not say. */
function who(actor) {
  return actor && actor.id ? `${actor.id} (${actor.role || "?"})` : "";
}

function yuan(cents) {
  return cents === null || cents === undefined ? "" : "¥" + (cents / 100).toFixed(2);
}

// ---- views -----------------------------------------------------------------------------

let pollTimer = null;
let pollGeneration = 0;

function stopPolling() {
  pollGeneration += 1;
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
}

/** Runs `tick` now and `every` ms after each one finishes (never two at once). A tick
 *  asks `current()` before it writes: the page may have changed while it waited. */
function poll(every, tick) {
  stopPolling();
  const generation = pollGeneration;
  const current = () => generation === pollGeneration;
  const run = async () => {
    await tick(current);
    if (current()) pollTimer = setTimeout(run, every);
  };
  run();
}

function render(message) {
  stopPolling();
  if (verification) verification.abort();
  const main = document.getElementById("main");
  const signedIn = Boolean(token());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  main.replaceChildren();
  if (!signedIn) {
    main.append(signInView(message));
    return;
  }
  // A link that did not work, opened in a tab still signed in with its own token.
  if (message) main.append(h("p", { class: "error", role: "alert", "data-testid": "sign-in-error" }, message));
  const [, view = "health", raw = ""] = /^#\/([a-z]+)\/?(.*)$/.exec(location.hash) || [];
  let argument = "";
  try {
    argument = decodeURIComponent(raw);
  } catch {
    argument = raw; // a malformed escape: shown as typed, refused by the API
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === view);
  }
  const views = { health: healthView, shop: shopView, aftersales: afterSalesView, orders: ordersView, stock: stockView, audit: auditView, payments: paymentsView,
    reconciliation: reconciliationView, platform: platformView };
  main.append((views[view] || healthView)(argument));
}

function signInView(message) {
  return card("Sign in",
    message ? h("p", { class: "error", "data-testid": "signed-out" }, message) : null,
    h("p", {}, "Run ", h("code", {}, "ordo console-url"),
      " on the server and open the address it prints. The link signs this tab in, once; the console's token stays in this tab, and signing out revokes it."));
}
