// Audit: verify, seals, export.
"use strict";

/** The verification this tab is running, if any: called off when the page changes. */
let verification = null;

function auditView() {
  const result = h("div", {});
  const readModels = h("input", { type: "checkbox", checked: true, id: "read-models" });
  const cancel = h("button", { type: "button", class: "secondary", hidden: true, "data-testid": "cancel-verify",
    onclick: () => verification && verification.abort() }, "Cancel");
  const run = h("button", { type: "button", "data-testid": "run-verify", onclick: async () => {
    run.disabled = true;
    cancel.hidden = false;
    const running = new AbortController();
    verification = running;
    const passes = readModels.checked ? 4 : 3;
    const started = Date.now();
    const bar = h("div", { style: "width: 0%" });
    const label = h("span", { class: "muted", "data-testid": "verify-progress" }, "Starting…");
    result.replaceChildren(h("div", { class: "row", "data-testid": "verify-running" },
      h("div", { class: "progress grow" }, bar), label));
    // A pass may go minutes without a line (comparing a large read model): the clock
    // keeps moving so the page does not look stuck.
    let stage = "Starting…";
    const paint = () => { label.textContent = `${stage}, ${Math.round((Date.now() - started) / 1000)} s`; };
    const ticker = setInterval(paint, 1000);
    let outcome = null;
    try {
      const response = await api("/api/v1/admin/audit/verify/stream?read_models=" + readModels.checked,
        { raw: true, signal: running.signal });
      await readLines(response, (line) => {
        if (line.progress) {
          const { pass, done, total } = line.progress;
          const share = total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 100;
          bar.style.width = share + "%";
          const unit = { streams: "events", seals: "events", read_models: "projections" }[pass];
          stage = PASS_NAMES[pass].replace("?", passes) + (unit ? `: ${done} of ${total} ${unit} (${share}%)` : "");
          paint();
        } else if (line.report) {
          outcome = verifyReport(line.report);
        } else if (line.error) {
          outcome = errorLine(new ApiError(line.error.code, "The verification could not finish: " + line.error.message));
        }
      });
      result.replaceChildren(outcome || errorLine("The verification stopped without a report: the connection closed."));
    } catch (error) {
      result.replaceChildren(error.name === "AbortError" ? h("p", { class: "muted", "data-testid": "verify-cancelled" }, "Cancelled.") : errorLine(error));
    } finally {
      clearInterval(ticker);
      // Hanging up calls the verification off on the server, whatever ended it here.
      running.abort();
      if (verification === running) verification = null;
      cancel.hidden = true;
      run.disabled = false;
    }
  } }, "Run verify");
  const seals = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  api("/api/v1/admin/audit/seals?size=50").then((page) => {
    // Through h(), which skips an absent child (replaceChildren would print "null").
    seals.replaceChildren(h("div", {}, page.list.length ? table(["Seal", "Up to position", "Events", "Cumulative hash", "Sealed at"],
      page.list.map((seal) => h("tr", { "data-testid": "seal" },
        h("td", { class: "num" }, seal.seal_id),
        h("td", { class: "num" }, seal.global_position),
        h("td", { class: "num" }, seal.event_count),
        h("td", { class: "mono" }, seal.cumulative_hash),
        h("td", { class: "mono" }, time(seal.sealed_at))))) : h("p", { class: "muted" }, "No seals yet."),
      page.list.length ? h("p", { class: "hint" }, `${page.pagination.total} seals in all; the newest 50 shown.`) : null));
  }).catch((error) => seals.replaceChildren(errorLine(error)));
  const from = h("input", { type: "datetime-local", step: 1, "aria-label": "from (UTC)" });
  const to = h("input", { type: "datetime-local", step: 1, "aria-label": "to (UTC)" });
  const exported = h("span", { class: "muted" });
  const exportForm = h("form", { class: "row", onsubmit: async (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (from.value) query.set("from", new Date(from.value + "Z").toISOString());
    if (to.value) query.set("to", new Date(to.value + "Z").toISOString());
    exported.textContent = "Exporting…";
    try {
      const response = await api("/api/v1/admin/audit/export?" + query, { raw: true });
      const blob = await response.blob();
      const link = h("a", { href: URL.createObjectURL(blob), download: "ordo-export.ndjson" }, `Download ordo-export.ndjson (${blob.size} bytes)`);
      exported.replaceChildren(link);
      link.click();
      // The file is the browser's once downloaded; the object URL need not outlive a minute.
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    } catch (error) {
      exported.replaceChildren(errorLine(error));
    }
  } }, h("label", {}, "From ", from), h("label", {}, "to ", to), h("button", { type: "submit" }, "Export NDJSON"), exported);
  return h("div", {},
    card("Verify the log", h("div", { class: "row" }, run, cancel, h("label", { for: "read-models" }, readModels, " compare the read models with a replay")),
      h("p", { class: "hint" }, "Checks every hash chain and seal, each stream's transitions, the stock invariants and (optionally) that each read model equals a replay."),
      result),
    card("Seals (newest first; keep their hashes elsewhere too)", seals),
    card("Export a time range (UTC; empty: everything)", exportForm));
}

/** What each pass of a verification does ("?" is the number of passes run). */
const PASS_NAMES = {
  streams: "1/? every stream's hashes, sequence and invariants",
  seals: "2/? the feed's cumulative hash at each seal",
  references: "3/? stock moves against their orders",
  read_models: "4/? each read model against a replay",
};

/** Reads an NDJSON answer as it arrives, calling `onLine` with each parsed line. */
async function readLines(response, onLine) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (pending + value).split("\n");
    pending = lines.pop();
    for (const line of lines) if (line.trim()) onLine(JSON.parse(line));
  }
  if (pending.trim()) onLine(JSON.parse(pending));
}

function verifyReport(report) {
  return h("div", {},
    h("p", { class: "result " + (report.ok ? "ok" : "bad"), "data-testid": "verify-result" },
      report.ok ? "ok" : `failed: ${report.failure_count} failure(s)` +
        (report.first_failure_position === null ? "" : `, the first at position ${report.first_failure_position}`)),
    h("p", { class: "muted" }, `${report.events} events in ${report.streams} streams, ${report.seals} seals, in ${report.seconds.toFixed(2)} s`),
    report.failures.length ? table(["Kind", "Position", "Stream", "What"], report.failures.map((failure) => h("tr", { "data-testid": "verify-failure" },
      h("td", {}, h("span", { class: "badge bad" }, failure.kind)),
      h("td", { class: "num" }, failure.position ?? ""),
      h("td", { class: "mono" }, failure.stream || ""),
      h("td", {}, failure.message)))) : null);
}
