// Starting the console: signing in from the link, signing out, following the address.
"use strict";

/** Ends `used` on the server (a copy of it elsewhere stops working too). */
function revoke(used) {
  return fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: "Bearer " + used } })
    .catch(() => null);
}

/** Signs out: the token is revoked, then forgotten. */
function signOutByChoice() {
  const used = token();
  signOut("Signed out.");
  if (used) revoke(used);
}

async function start() {
  render((await signInFromFragment()) || undefined);
}

document.getElementById("sign-out").addEventListener("click", signOutByChoice);
window.addEventListener("hashchange", () => {
  if (location.hash.startsWith("#token=")) start();
  else render();
});
start();
