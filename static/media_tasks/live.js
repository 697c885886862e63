// htmx polls the live parts of a page (hx-trigger="every 1s"). The server answers 304
// when nothing changed; the browser may still hand htmx the cached copy, so swaps whose
// HTML is what is already there are skipped (no flicker). A <details> the reader opened
// or closed stays as they left it across a swap.
let detailsOpen = [];
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  const last = event.detail.elt.dataset.lastResponse;
  if (xhr.status === 304 || (last !== undefined && last === xhr.responseText)) {
    event.detail.shouldSwap = false;
    return;
  }
  detailsOpen = [...event.detail.elt.querySelectorAll("details")].map((d) => d.open);
});
document.addEventListener("htmx:afterSwap", (event) => {
  const fresh = event.detail.target.isConnected ? event.detail.target : document.getElementById(event.detail.target.id);
  if (fresh) fresh.dataset.lastResponse = event.detail.xhr.responseText;
});
document.addEventListener("htmx:afterSettle", () => {
  document.querySelectorAll("#asset-live details").forEach((d, i) => { if (i in detailsOpen) d.open = detailsOpen[i]; });
});
