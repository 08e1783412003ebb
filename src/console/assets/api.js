// The operators' and auditors' console: one page, no build step, nothing from other
// hosts. Every figure comes from ordo's own API with the console's token: traded, once,
// for the token in the sign-in link, kept in this tab only (sessionStorage), revoked on
// sign-out and forgotten when the API refuses it.
"use strict";

const TOKEN_KEY = "ordo.console.token";

// ---- the token -------------------------------------------------------------------------

/** Takes `#token=...` from the address (it never reached a server) and trades it, once,
 *  for the console's own token: the link left in the browser's history is then spent.
 *  Answers why it could not sign in, if it could not. */
async function signInFromFragment() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", location.pathname + location.search + "#/health");
  // The new link is checked first: a link that does not work (spent, forged, a
  // shopper's) leaves a signed-in tab as it was, so nobody can sign an operator out by
  // getting them to open one.
  const previous = token();
  try {
    // A JWT needs no unescaping: what follows `#token=` is the token.
    const response = await fetch("/api/v1/admin/console/sign-in", {
      method: "POST", headers: { Authorization: "Bearer " + match[1] },
    });
    const body = await response.json().catch(() => null);
    if (response.status === 403) return NOT_AN_OPERATOR;
    if (!response.ok) return `That sign-in link does not work: ${(body && body.message) || "HTTP " + response.status}.`;
    // It replaces this tab's sign-in: the old token is ended, not just forgotten.
    stopPolling();
    sessionStorage.setItem(TOKEN_KEY, body.data.access_token);
    if (previous) revoke(previous);
    return null;
  } catch (error) {
    return "Could not reach ordo to sign in: " + error.message;
  }
}

const NOT_AN_OPERATOR = "That token is not an operator's: the console needs one from `ordo console-url`.";

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  stopPolling();
  history.replaceState(null, "", location.pathname + location.search);
  render(reason);
}

// ---- talking to the API ----------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The `data` of an answer; a refused token signs the operator out. */
async function api(path, options = {}) {
  const used = token();
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: "Bearer " + used, ...(options.headers || {}) },
  });
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}));
    // An answer to a token this tab has since replaced signs nothing out.
    if (used !== token()) throw new ApiError(response.status, "signed in again");
    signOut(response.status === 403
      ? NOT_AN_OPERATOR
      : "The token expired or was revoked (" + (body.message || response.status) + ").");
    throw new ApiError(response.status, "signed out");
  }
  if (options.raw) {
    if (!response.ok) throw new ApiError(response.status, "HTTP " + response.status);
    return response;
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.message) || "HTTP " + response.status);
  }
  return body.data;
}
