// Result page player: HLS through hls.js (native HLS on Safari), MP4 <source>s as the
// fallback (fetched only when used), and a quality picker over the HLS levels; controls.js
// adds the seek bar with previews and the other controls. Runs on page load and when htmx swaps the finished job in.
(function () {
  // The MP4 rungs (the markup's <source>s, preload="none" so nothing is fetched yet): taken out
  // while HLS plays, and put back only if it cannot (unsupported, or hls.js gives up on it).
  function useMp4(box, video, sources) {
    if (box.dataset.engine === "mp4") return;
    video.append(...sources);
    video.preload = "metadata";
    video.load();
    box.dataset.engine = "mp4";
    setUpQuality(box, video, null, sources);
  }

  function setUpQuality(box, video, hls, sources) {
    const select = box.querySelector("#quality");
    const playing = box.querySelector("#playing-level");
    if (!select) return;  // a sound alone: one quality, no picker
    if (!hls) {  // MP4 fallback: the picker switches between the rungs' files
      select.replaceChildren(...sources.map((s, i) => new Option(s.dataset.profile, String(i))));
      select.onchange = () => {
        const time = video.currentTime, paused = video.paused;
        video.src = sources[Number(select.value)].src;
        video.currentTime = time;
        if (!paused) video.play();
      };
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
      playing.textContent = level ? `Playing ${label(level)}.` : "";
      box.dataset.level = level ? String(level.height) : "";
    });
    select.onchange = () => { hls.currentLevel = Number(select.value); };
  }

  // The CC control: the page's <track>s (one per caption track), shown one at a time. hls.js is
  // told not to add the master's own subtitle tracks (enableWebVTT: false), so each shows once.
  function setUpCaptions(box, video) {
    const select = box.querySelector("#cc");
    if (!select) return;
    const show = () => {
      for (const track of video.textTracks) {
        if (track.kind !== "subtitles") continue;
        track.mode = select.value && track.language === select.value ? "showing" : "disabled";
      }
    };
    select.addEventListener("change", show);
    show();
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
    const sources = [...video.querySelectorAll("source")];
    let hls = null;
    if (src && window.Hls && Hls.isSupported()) {
      sources.forEach((s) => s.remove());
      // startPosition 0: a playlist that still grows (EVENT) is played from its start, not its end.
      const from = !box.dataset.growing && resume ? resume.time : 0;
      hls = new Hls({capLevelToPlayerSize: true, startPosition: from, enableWebVTT: false});
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal || !sources.length) return;
        hls.destroy();  // HLS out of reach: the MP4 rungs, fetched only now
        useMp4(box, video, sources);
      });
      hls.loadSource(src);
      hls.attachMedia(video);
      box.dataset.engine = "hls.js";
      setUpQuality(box, video, hls, sources);
    } else if (src && video.canPlayType("application/vnd.apple.mpegurl")) {
      sources.forEach((s) => s.remove());
      video.preload = "metadata";
      video.src = src;  // Safari plays HLS itself
      video.addEventListener("error", () => { if (sources.length) useMp4(box, video, sources); }, {once: true});
      box.dataset.engine = "native-hls";  // Safari picks the quality itself: the picker stays at Auto
    } else {
      useMp4(box, video, sources);
    }
    if (box.dataset.growing) {
      earlyHls = hls;
    } else if (resume) {
      if (earlyHls) earlyHls.destroy();  // the early player left the page with the swap
      earlyHls = null;
      if (!hls) video.currentTime = resume.time;
      box.dataset.continued = "1";  // goes on from the early player, not from the last visit
      video.muted = resume.muted;
      if (resume.playing) video.play().catch(() => {});
      resume = null;
    }
    setUpCaptions(box, video);
    if (window.MediaControls) MediaControls.attach(box, video);  // one seek bar with previews (controls.js)
  }

  document.addEventListener("htmx:load", (event) => init(event.detail.elt.parentNode || document));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => init(document));
  else init(document);
})();
