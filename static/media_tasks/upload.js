// The upload page: Uppy's AwsS3 multipart uploader (vendored from npm) against our
// upload API. With S3 the parts go straight to the bucket on presigned URLs; with the
// filesystem backend the same API hands out URLs of its own. GoldenRetriever keeps
// the upload state across a reload; choosing the same file again resumes it after
// the parts the server lists as received.
(function () {
  const root = document.getElementById("uploader");
  if (!root || !window.Uppy) return;
  const api = root.dataset.api;  // .../api/v1/uploads
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  const MiB = 1024 * 1024;
  const ZERO_ID = "00000000-0000-0000-0000-000000000000";
  const list = document.getElementById("upload-list");
  const rows = list.querySelector("tbody");
  const note = document.getElementById("restore-note");

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": decodeURIComponent(csrf), Accept: "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((data.error && data.error.message) || `The server answered ${response.status}.`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  const uppy = new Uppy.Uppy({
    autoProceed: true,
    restrictions: {maxFileSize: Number(root.dataset.maxBytes) || null},
  });
  uppy.use(Uppy.AwsS3, {
    shouldUseMultipart: () => true,
    limit: 4,  // parts in flight, across all files
    // 8 MiB parts, bigger for huge files so that no upload needs more than 10,000 parts.
    getChunkSize: (file) => Math.max(8 * MiB, Math.ceil(file.size / 10000)),
    async createMultipartUpload(file) {
      const upload = await call("POST", api, {filename: file.name, size: file.size});
      return {uploadId: upload.upload_id, key: upload.key};
    },
    async listParts(file, {uploadId}) {
      const parts = await call("GET", `${api}/${uploadId}/parts`);
      return parts.map((p) => ({PartNumber: p.part_number, Size: p.size, ETag: p.etag}));
    },
    async signPart(file, {uploadId, partNumber, body}) {
      // S3 URLs are signed for the part's exact length.
      const target = await call("POST", `${api}/${uploadId}/parts/${partNumber}/url?size=${body.size}`);
      const headers = {...target.headers};
      if (new URL(target.url, location.href).origin === location.origin) headers["X-CSRFToken"] = decodeURIComponent(csrf);
      return {method: target.method, url: target.url, headers};
    },
    async completeMultipartUpload(file, {uploadId, parts}) {
      const accepted = await call("POST", `${api}/${uploadId}/complete`, {
        parts: parts.map((p) => ({part_number: p.PartNumber, etag: p.ETag})),
      });
      return {location: root.dataset.detailUrl.replace(ZERO_ID, accepted.asset_id), ...accepted};
    },
    async abortMultipartUpload(file, {uploadId}) {
      if (uploadId) await call("DELETE", `${api}/${uploadId}`);
    },
  });
  uppy.use(Uppy.DropTarget, {target: document.getElementById("dropzone")});
  uppy.use(Uppy.GoldenRetriever, {serviceWorker: false});

  // --- One row per file: name, bar, speed, time left, cancel; a link once it is queued.
  const human = (bytes) => bytes >= MiB ? (bytes / MiB).toFixed(1) + " MB" : Math.round(bytes / 1024) + " kB";
  const duration = (s) => !isFinite(s) ? "…" : s < 60 ? Math.ceil(s) + " s" : Math.floor(s / 60) + " min " + Math.ceil(s % 60) + " s";

  function row(file) {
    let tr = rows.querySelector(`tr[data-file="${CSS.escape(file.id)}"]`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.file = file.id;
      tr.innerHTML = `<td class="name"><span class="filename"></span>${detailFields()}</td><td><progress max="100" value="0"></progress> <span class="percent">0%</span>
        <div class="state meta"></div></td><td class="speed"></td><td class="eta"></td><td><button class="secondary cancel" type="button">Cancel</button></td>`;
      tr.querySelector(".filename").textContent = file.name;
      tr.querySelectorAll(".row-details input, .row-details textarea").forEach((field) => {
        field.id = `${field.className}-${rows.children.length}`;
        field.previousElementSibling.htmlFor = field.id;
        field.addEventListener("change", () => { if (tr.dataset.assetId) saveDetails(tr); });
      });
      tr.querySelector(".cancel").addEventListener("click", () => {
        // Nothing sent yet is nothing lost: ask only when part of the file is already up.
        const sent = (uppy.getFile(file.id) || file).progress.bytesUploaded || 0;
        if (sent && !window.confirm(`Stop uploading ${file.name}? What was sent so far is dropped.`)) return;
        uppy.removeFile(file.id);
      });
      rows.append(tr);
      list.hidden = false;
    }
    return tr;
  }

  // --- A title and a description per row, typed while the file uploads: sent (PATCH on the
  // item) once the upload is complete and the item exists, and again on each later change.
  function detailFields() {
    return `<div class="row-details"><label>Title</label><input class="title" maxlength="200" autocomplete="off">
      <label>Description</label><textarea class="description" rows="2" maxlength="5000"></textarea>
      <span class="details-state meta" role="status"></span></div>`;
  }

  async function saveDetails(tr) {
    const title = tr.querySelector(".row-details .title").value.trim();
    const description = tr.querySelector(".row-details .description").value.trim();
    const said = tr.querySelector(".details-state");
    if (!title && !description && !tr.dataset.detailsSent) return;
    said.textContent = "Saving…";
    try {
      await call("PATCH", root.dataset.assetApi.replace(ZERO_ID, tr.dataset.assetId), {title, description});
      tr.dataset.detailsSent = "1";
      said.className = "details-state meta";
      said.textContent = "Saved.";
    } catch (error) {
      said.className = "details-state error";
      said.textContent = `Not saved: ${plain(error)}`;
    }
  }

  function state(file, text, kind) {
    const el = row(file).querySelector(".state");
    el.textContent = text;
    el.className = "state " + (kind || "meta");
  }

  uppy.on("file-added", (file) => { row(file); state(file, file.isGhost ? "Choose this file again to resume." : "Waiting…"); });
  uppy.on("upload-progress", (file, progress) => {
    if (!uppy.getFile(file.id)) return;  // cancelled: a late report says nothing more
    const tr = row(file);
    const done = progress.bytesUploaded, total = progress.bytesTotal || file.size;
    const percent = total ? Math.floor(100 * done / total) : 0;
    tr.querySelector("progress").value = percent;
    tr.querySelector(".percent").textContent = percent + "%";
    const started = file.progress.uploadStarted;
    const seconds = started ? (Date.now() - started) / 1000 : 0;
    const speed = seconds > 0.2 ? done / seconds : 0;
    tr.querySelector(".speed").textContent = speed ? human(speed) + "/s" : "";
    tr.querySelector(".eta").textContent = speed ? duration((total - done) / speed) : "";
    state(file, `${human(done)} of ${human(total)}`);
  });
  uppy.on("upload-success", (file, response) => {
    const tr = row(file);
    tr.querySelector("progress").value = 100;
    tr.querySelector(".percent").textContent = "100%";
    tr.querySelector(".eta").textContent = "";
    tr.querySelector(".cancel").remove();
    const body = response.body || {};
    const cell = tr.querySelector(".state");
    cell.className = "state";
    // The same bytes as an earlier upload: the server kept nothing new, and the link (to the
    // asset it answered with) goes to that earlier one, as the plain form says.
    const words = body.duplicate ? "You uploaded this file before:" : "Uploaded:";
    cell.innerHTML = `${words} <a class="status-link"></a>`;
    const link = cell.querySelector("a");
    link.href = body.location || response.uploadURL;
    link.textContent = body.duplicate ? "here it is" : "processing — follow it live";
    tr.classList.toggle("duplicate", Boolean(body.duplicate));
    tr.dataset.assetId = body.asset_id || "";
    tr.querySelector(".speed").textContent = "";  // done: a speed says nothing any more
    if (!body.duplicate) {
      saveDetails(tr);
      follow(tr, link);  // an earlier item has its own page to follow
    } else {
      tr.querySelector(".row-details").remove();  // the earlier item keeps its own words
    }
  });
  // Each uploaded row follows its job until it ends, so that a failure shows here too.
  async function follow(tr, link) {
    const statusUrl = new URL("status/", link.href);
    while (tr.isConnected) {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      let job;
      try {
        const response = await fetch(statusUrl, {credentials: "same-origin", headers: {Accept: "application/json"}});
        if (!response.ok) return;
        job = await response.json();
      } catch (error) {
        continue;  // offline for a moment: ask again
      }
      if (job.status === "succeeded") { link.textContent = "ready — watch it"; return; }
      if (job.status === "failed" || job.status === "cancelled") {
        const cell = tr.querySelector(".state");
        cell.className = "state error";
        cell.textContent = `${job.status === "failed" ? "Failed" : "Cancelled"}: ${job.error || ""} `;
        link.textContent = "details";
        cell.append(link);
        return;
      }
      link.textContent = `${job.stage} — ${job.progress}%`;
    }
  }
  // A lost connection is said in plain words, with a Retry; it goes on by itself once back online.
  function plain(error) {
    const text = (error && error.message) || "";
    if (!navigator.onLine || /failed to fetch|networkerror|network error|load failed/i.test(text)) {
      return "The connection was lost. It goes on by itself when you are back online, or press Retry.";
    }
    return text || "The upload failed.";
  }
  uppy.on("upload-error", (file, error) => {
    state(file, plain(error), "error");
    const tr = row(file);
    if (!tr.querySelector(".retry")) {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "retry";
      retry.textContent = "Retry";
      retry.addEventListener("click", () => { retry.remove(); state(file, "Trying again…"); uppy.retryUpload(file.id); });
      tr.querySelector(".state").after(retry);
    }
  });
  window.addEventListener("online", () => {
    rows.querySelectorAll(".retry").forEach((button) => button.remove());
    uppy.retryAll();
  });
  // Leaving the page stops the uploads that are running: say so first.
  window.addEventListener("beforeunload", (event) => {
    const running = uppy.getFiles().some((f) => f.progress.uploadStarted && !f.progress.uploadComplete && !f.error);
    if (running) { event.preventDefault(); event.returnValue = ""; }
  });
  uppy.on("restriction-failed", (file, error) => {
    if (file) { row(file); state(file, error.message, "error"); }
  });
  uppy.on("file-removed", (file) => {
    const tr = rows.querySelector(`tr[data-file="${CSS.escape(file.id)}"]`);
    if (!tr || tr.dataset.assetId) return;
    state(file, "Cancelled.", "meta");
    tr.querySelector(".speed").textContent = tr.querySelector(".eta").textContent = "";
    tr.querySelector(".row-details")?.remove();
    const cancel = tr.querySelector(".cancel");
    if (cancel) {
      // The button goes: focus stays on the row's state, not on the page's body.
      const had = document.activeElement === cancel;
      cancel.remove();
      const said = tr.querySelector(".state");
      said.tabIndex = -1;
      if (had) said.focus();
    }
  });
  uppy.on("restored", () => {
    // Only what did not finish comes back; a finished upload is done with (its link is in My media).
    uppy.getFiles().filter((f) => f.progress.uploadComplete).forEach((f) => uppy.removeFile(f.id));
    const unfinished = uppy.getFiles();
    if (!unfinished.length) { rows.replaceChildren(); list.hidden = true; return; }
    const ghosts = unfinished.filter((f) => f.isGhost).length;
    note.hidden = false;
    note.textContent = ghosts
      ? `${ghosts} upload(s) stopped before they finished. Choose the same file(s) again to go on from where they stopped.`
      : `Going on with ${unfinished.length} upload(s) that were interrupted.`;
    unfinished.forEach((f) => { row(f); state(f, f.isGhost ? "Choose this file again to resume." : "Resuming…"); });
    if (!ghosts) uppy.emit("restore-confirmed");
  });

  const input = document.getElementById("file-input");
  // A real button: a label for a hidden input is skipped by Tab.
  document.getElementById("choose-files").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    for (const file of input.files) {
      // The same file again: a failed upload is tried again, a finished one keeps its link.
      const same = uppy.getFiles().find((f) => f.name === file.name && f.size === file.size && !f.isGhost);
      if (same) {
        if (same.error) { state(same, "Trying again…"); uppy.retryUpload(same.id); }
        continue;
      }
      try {
        uppy.addFile({name: file.name, type: file.type, data: file, source: "file input"});
      } catch (error) {
        // Uppy has already reported restrictions (restriction-failed) on the row.
      }
    }
    input.value = "";
    if (uppy.getState().recoveredState && !uppy.getFiles().some((f) => f.isGhost)) uppy.emit("restore-confirmed");
  });
  window.mediaUploader = uppy;  // for the browser tests and the curious
})();
