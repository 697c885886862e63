// htmx polls the live parts of a page (hx-trigger="every 1s"). The server answers 304
// when nothing changed; the browser may still hand htmx the cached copy, so skip
// swaps whose HTML is what is already there (no flicker, no lost <details> state).
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  const last = event.detail.elt.dataset.lastResponse;
  if (xhr.status === 304 || (last !== undefined && last === xhr.responseText)) {
    event.detail.shouldSwap = false;
  }
});
document.addEventListener("htmx:afterSwap", (event) => {
  const fresh = event.detail.target.isConnected ? event.detail.target : document.getElementById(event.detail.target.id);
  if (fresh) fresh.dataset.lastResponse = event.detail.xhr.responseText;
});
// Keep a <details> the reader opened or closed as they left it across swaps.
document.addEventListener("htmx:beforeSwap", (event) => {
  const open = {};
  event.detail.elt.querySelectorAll("details").forEach((d, i) => { open[i] = d.open; });
  window.__detailsState = open;
});
document.addEventListener("htmx:afterSettle", () => {
  const state = window.__detailsState || {};
  document.querySelectorAll("#asset-live details").forEach((d, i) => { if (i in state) d.open = state[i]; });
});
