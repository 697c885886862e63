// Polls the asset's status URL about once a second while the job runs, and
// reloads the page once it has ended so the results render server-side.
(function () {
  const box = document.getElementById("job-status");
  if (!box || box.dataset.final === "true") return;
  const stage = document.getElementById("job-stage");
  const bar = document.getElementById("job-progress");
  const percent = document.getElementById("job-percent");
  const error = document.getElementById("job-error");
  const history = document.getElementById("job-events");
  const kind = document.getElementById("asset-kind");
  let delay = 1000;

  function renderEvents(events) {
    if (!history || events.length === history.children.length) return;
    history.replaceChildren(...events.map((e) => {
      const item = document.createElement("li");
      const at = document.createElement("time");
      at.textContent = new Date(e.at).toLocaleTimeString([], {hour12: false});
      item.append(at, " " + e.message);
      if (e.worker) {
        const who = document.createElement("span");
        who.className = "meta";
        who.textContent = " (" + e.worker + ")";
        item.append(who);
      }
      return item;
    }));
  }

  // A 503 names what is out of reach (the API's error code): the stage says what it waits for.
  const UNAVAILABLE = {database_unavailable: "the database", storage_unavailable: "storage"};
  async function sayUnavailable(response) {
    const body = await response.json().catch(() => ({}));
    const what = UNAVAILABLE[body.error && body.error.code];
    if (what) stage.textContent = stage.textContent.replace(/ \(waiting for .*\)$/, "") + " (waiting for " + what + ")";
  }

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, {headers: {Accept: "application/json"}});
      if (response.ok) {
        const s = await response.json();
        stage.textContent = s.stage;
        bar.value = s.progress;
        percent.textContent = s.progress + "%";
        if (s.error) { error.textContent = s.error; error.hidden = false; }
        renderEvents(s.events || []);
        if (s.kind && kind) kind.textContent = s.kind.charAt(0).toUpperCase() + s.kind.slice(1);
        if (s.is_final) { window.location.reload(); return; }
        delay = 1000;
      } else {
        if (response.status === 503) await sayUnavailable(response);
        delay = Math.min(delay * 2, 10000);
      }
    } catch (e) {
      delay = Math.min(delay * 2, 10000);  // offline or server restarting: back off
    }
    setTimeout(poll, delay);
  }
  setTimeout(poll, delay);
})();
