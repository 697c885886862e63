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

// The live part is replaced at every swap, so a screen reader would not hear it change: each new
// stage is said once through the page's status line, which stays.
function announceStage() {
  const live = document.querySelector("#asset-live");
  const announcer = document.querySelector("#status-announcer");
  if (!live || !announcer || announcer.dataset.status === live.dataset.status) return;
  const first = announcer.dataset.status === undefined;
  announcer.dataset.status = live.dataset.status;
  if (first) return;  // what the page says on arrival is read with the page
  const error = live.querySelector("#job-error");
  announcer.textContent = live.dataset.stageLabel + (error ? `: ${error.textContent}` : "");
}
document.addEventListener("htmx:afterSettle", announceStage);
document.addEventListener("DOMContentLoaded", announceStage);
