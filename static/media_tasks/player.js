// Result page player: HLS through hls.js (native HLS on Safari), MP4 <source>s as the
// fallback, and a quality picker over the HLS levels; controls.js adds the seek bar with
// previews. Runs on page load and when htmx swaps the finished job in.
(function () {
  function setUpQuality(box, video, hls) {
    const select = box.querySelector("#quality");
    const playing = box.querySelector("#playing-level");
    if (!hls) {  // MP4 fallback: the picker switches between the rungs' files
      const sources = [...video.querySelectorAll("source")];
      select.replaceChildren(...sources.map((s, i) => new Option(s.dataset.profile, String(i))));
      select.addEventListener("change", () => {
        const time = video.currentTime, paused = video.paused;
        video.src = sources[Number(select.value)].src;
        video.currentTime = time;
        if (!paused) video.play();
      });
      return;
    }
    // Named by the short side, as the ladder is: a 720×1280 portrait rung is "720p".
    const label = (level) => Math.min(level.width, level.height) + "p";
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      const options = data.levels
        .map((level, index) => ({label: label(level), index, height: level.height}))
        .sort((a, b) => b.height - a.height)
        .map((l) => new Option(l.label, String(l.index)));
      select.replaceChildren(new Option("Auto", "-1"), ...options);
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      const level = hls.levels[data.level];
      playing.textContent = level ? `playing ${label(level)}` : "";
      box.dataset.level = level ? String(level.height) : "";
    });
    select.addEventListener("change", () => { hls.currentLevel = Number(select.value); });
  }

  // The early player (playable before ready) gives way to the full one (MP4 fallback, poster,
  // scrubbing) when the job is ready; the full one goes on from where the viewer was.
  let resume = null;
  let earlyHls = null;
  document.addEventListener("htmx:beforeSwap", () => {
    const early = document.querySelector("#player-box[data-growing] video");
    if (early) resume = {time: early.currentTime, playing: !early.paused, muted: early.muted};
  });

  // While the job transcodes the master names the lead quality alone (made ahead of the others, so
  // a viewer never catches up with it). Once the ladder is stored (the job has moved on to its
  // thumbnails) the early player loads the master again: the other qualities join the picker and
  // playback goes on from where the viewer was.
  document.addEventListener("htmx:afterSwap", () => {
    const live = document.querySelector("#asset-live");
    const box = document.querySelector("#player-box[data-growing]");
    if (!earlyHls || !box || !live || box.dataset.joined) return;
    if (!(live.dataset.ladderStored || "").split(" ").includes(live.dataset.status)) return;
    box.dataset.joined = "1";
    const video = box.querySelector("video");
    const playing = !video.paused && !video.ended;
    earlyHls.config.startPosition = video.ended ? 0 : video.currentTime;  // watched to the end: from the start
    earlyHls.loadSource(box.dataset.hls);
    if (playing) earlyHls.once(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
    const note = box.querySelector("#more-qualities");
    if (note) note.textContent = "All qualities are ready.";
  });

  function init(root) {
    const box = (root || document).querySelector ? (root || document).querySelector("#player-box") : null;
    if (!box || box.dataset.ready) return;
    box.dataset.ready = "1";
    const video = box.querySelector("video");
    const src = box.dataset.hls;
    let hls = null;
    if (src && window.Hls && Hls.isSupported()) {
      // startPosition 0: a playlist that still grows (EVENT) is played from its start, not its end.
      const from = !box.dataset.growing && resume ? resume.time : 0;
      hls = new Hls({capLevelToPlayerSize: true, startPosition: from});
      hls.loadSource(src);
      hls.attachMedia(video);
      box.dataset.engine = "hls.js";
    } else if (src && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;  // Safari plays HLS itself
      box.dataset.engine = "native-hls";
    } else {
      box.dataset.engine = "mp4";
    }
    setUpQuality(box, video, hls);
    if (box.dataset.growing) {
      earlyHls = hls;
    } else if (resume) {
      if (earlyHls) earlyHls.destroy();  // the early player left the page with the swap
      earlyHls = null;
      if (!hls) video.currentTime = resume.time;
      video.muted = resume.muted;
      if (resume.playing) video.play().catch(() => {});
      resume = null;
    }
    if (window.MediaControls) MediaControls.attach(box, video);  // one seek bar with previews (controls.js)
  }

  document.addEventListener("htmx:load", (event) => init(event.detail.elt.parentNode || document));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => init(document));
  else init(document);
})();
