// Polls the asset's status URL about once a second while the job runs, and
// reloads the page once it has ended so the results render server-side.
(function () {
  const box = document.getElementById("job-status");
  if (!box || box.dataset.final === "true") return;
  const stage = document.getElementById("job-stage");
  const bar = document.getElementById("job-progress");
  const percent = document.getElementById("job-percent");
  const error = document.getElementById("job-error");
  let delay = 1000;

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, {headers: {Accept: "application/json"}});
      if (response.ok) {
        const s = await response.json();
        stage.textContent = s.stage;
        bar.value = s.progress;
        percent.textContent = s.progress + "%";
        if (s.error) { error.textContent = s.error; error.hidden = false; }
        if (s.is_final) { window.location.reload(); return; }
        delay = 1000;
      } else {
        delay = Math.min(delay * 2, 10000);
      }
    } catch (e) {
      delay = Math.min(delay * 2, 10000);  // offline or server restarting: back off
    }
    setTimeout(poll, delay);
  }
  setTimeout(poll, delay);
})();
