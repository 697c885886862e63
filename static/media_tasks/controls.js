// The player's own controls: one seek bar (a range input, so keyboard, touch and mouse all work)
// that shows the sprite sheet's picture of the time under the pointer, the finger or the
// keyboard's new position; play, volume, speed, mute, picture-in-picture and full screen; the
// j/k/l/f/m keys while the player has focus; and resuming where the viewer left off. Without
// JavaScript the browser's controls stay.
window.MediaControls = (function () {
  const STEP_S = 5;  // the arrow keys' jump, as in most players
  const KEY_STEP_S = 10;  // j and l, as on YouTube
  // Resuming: not for the first seconds, nor for the last ones (watched to the end: start again).
  const RESUME_FROM_S = 3;
  const RESUME_TAIL = {seconds: 10, fraction: 0.2};

  function clock(t) {
    const s = Math.max(0, Math.floor(t || 0));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function parseVtt(text, base) {
    const cues = [];
    const stamp = (v) => v.split(":").reduce((acc, part) => acc * 60 + parseFloat(part), 0);
    for (const block of text.split(/\r?\n\r?\n/)) {
      const lines = block.trim().split(/\r?\n/);
      const timing = lines.findIndex((l) => l.includes("-->"));
      if (timing < 0 || !lines[timing + 1]) continue;
      const [start, end] = lines[timing].split("-->").map((v) => stamp(v.trim().split(" ")[0]));
      const [file, frag] = lines[timing + 1].trim().split("#xywh=");
      const [x, y, w, h] = (frag || "0,0,0,0").split(",").map(Number);
      cues.push({start, end, url: new URL(file, base).href, x, y, w, h});
    }
    return cues;
  }

  async function loadCues(url) {
    if (!url) return [];
    const response = await fetch(url, {credentials: "same-origin"});
    return response.ok ? parseVtt(await response.text(), new URL(url, location.href)) : [];
  }

  function preview(parts, cues, time, fraction) {
    const {box, label, seek} = parts;
    if (!cues.length) return;  // the early player has no sprite yet
    const cue = cues.find((c) => time >= c.start && time < c.end) || cues[cues.length - 1];
    const width = seek.getBoundingClientRect().width;
    Object.assign(box.style, {
      width: cue.w + "px",
      height: cue.h + "px",
      backgroundImage: `url("${cue.url}")`,
      backgroundPosition: `-${cue.x}px -${cue.y}px`,
      left: Math.min(width - cue.w, Math.max(0, fraction * width - cue.w / 2)) + "px",
    });
    box.dataset.time = time.toFixed(2);
    label.textContent = clock(time);
    box.classList.add("visible");
  }

  // The player's clock. While the playlist still grows (EVENT), the video's own duration is only
  // what is encoded so far: the source's (from the probe) is shown, and seeks stop at what is there.
  function timing(box, video, cues) {
    const known = Number(box.dataset.duration) || (cues.length ? cues[cues.length - 1].end : 0);
    const own = () => (Number.isFinite(video.duration) ? video.duration : 0);
    const duration = () => (box.dataset.growing ? Math.max(own(), known) : own() || known);
    const reachable = () => {
      const s = video.seekable;
      return box.dataset.growing && s.length ? s.end(s.length - 1) : own() || known;
    };
    return {duration, reachable};
  }

  async function attach(box, video) {
    const bar = box.querySelector("#scrub");
    if (!bar || box.dataset.controls) return;
    box.dataset.controls = "loading";
    const cues = await loadCues(box.dataset.spriteVtt).catch(() => []);
    const q = (id) => box.querySelector(id);
    const parts = {box: q("#scrub-preview"), label: q("#scrub-time"), seek: q("#seek")};
    const {duration, reachable} = timing(box, video, cues);
    const announcer = q("#player-announcer");
    const player = {box, video, q, parts, cues, duration, announce: (text) => { if (announcer) announcer.textContent = text; }};
    player.seekTo = (time) => {
      const to = Math.min(reachable(), Math.max(0, time));
      video.currentTime = to;
      parts.seek.value = String(to);
      player.show(to);
      player.render();
      return to;
    };
    player.toggle = () => (video.paused ? video.play().catch(() => {}) : video.pause());
    setUpSeek(player);
    setUpButtons(player);
    setUpKeys(player);
    setUpResume(player);
    for (const name of ["timeupdate", "durationchange", "play", "pause", "volumechange", "seeked", "ratechange"]) {
      video.addEventListener(name, player.render);
    }
    offerPosterMoment(box, video);
    video.controls = false;
    video.tabIndex = 0;  // the keys work while the picture has focus
    video.setAttribute("aria-keyshortcuts", "j k l f m");
    video.setAttribute("aria-describedby", "player-keys");
    bar.hidden = false;
    box.dataset.controls = "own";
    player.render();
  }

  function setUpSeek(player) {
    const {parts, cues, duration, video, q} = player;
    const {seek} = parts;
    let hideSoon = null;
    let dragging = false;  // a pointer holds the thumb: playback must not pull it back
    player.show = (time) => {
      clearTimeout(hideSoon);
      preview(parts, cues, time, time / (duration() || 1));
    };
    const hide = (after = 0) => {
      clearTimeout(hideSoon);
      hideSoon = setTimeout(() => parts.box.classList.remove("visible"), after);
    };
    player.render = () => {
      seek.max = String(duration());
      if (!dragging) seek.value = String(video.currentTime);
      seek.setAttribute("aria-valuetext", `${clock(video.currentTime)} of ${clock(duration())}`);
      q("#time").textContent = `${clock(video.currentTime)} / ${clock(duration())}`;
      const play = q("#play");
      play.textContent = video.paused ? "▶" : "❚❚";
      play.setAttribute("aria-label", video.paused ? "Play" : "Pause");
      q("#mute").setAttribute("aria-pressed", String(video.muted));
      q("#volume").value = String(video.muted ? 0 : video.volume);
      q("#speed").value = String(video.playbackRate);
    };
    // Mouse hover and a finger's drag both move a pointer over the bar.
    seek.addEventListener("pointermove", (event) => {
      const rect = seek.getBoundingClientRect();
      const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
      preview(parts, cues, fraction * duration(), fraction);
      clearTimeout(hideSoon);
    });
    seek.addEventListener("pointerleave", () => hide());
    seek.addEventListener("pointerdown", () => { dragging = true; });
    for (const end of ["pointerup", "pointercancel"]) seek.addEventListener(end, () => { dragging = false; });
    seek.addEventListener("input", () => player.seekTo(Number(seek.value)));
    seek.addEventListener("change", () => hide(800));
    seek.addEventListener("blur", () => hide());
    seek.addEventListener("keydown", (event) => {
      const jumps = {
        ArrowLeft: -STEP_S, ArrowDown: -STEP_S, ArrowRight: STEP_S, ArrowUp: STEP_S,
        PageDown: -duration() / 10, PageUp: duration() / 10,
      };
      if (event.key in jumps) player.seekTo(video.currentTime + jumps[event.key]);
      else if (event.key === "Home") player.seekTo(0);
      else if (event.key === "End") player.seekTo(duration());
      else if (event.key === " ") player.toggle();
      else return;
      event.preventDefault();
      event.stopPropagation();
      hide(1200);  // the keyboard's preview stays long enough to be seen
    });
  }

  function setUpButtons(player) {
    const {box, video, q} = player;
    q("#play").addEventListener("click", player.toggle);
    video.addEventListener("click", player.toggle);
    q("#mute").addEventListener("click", () => { video.muted = !video.muted; });
    q("#volume").addEventListener("input", (event) => {
      video.volume = Number(event.target.value);
      video.muted = video.volume === 0;
    });
    q("#speed").addEventListener("change", (event) => { video.playbackRate = Number(event.target.value); });
    player.fullscreen = () => (
      document.fullscreenElement ? document.exitFullscreen() : box.requestFullscreen()
    ).catch(() => {});
    q("#fullscreen").addEventListener("click", player.fullscreen);
    const pip = q("#pip");
    pip.hidden = !(document.pictureInPictureEnabled && !video.disablePictureInPicture);
    pip.addEventListener("click", () => (
      document.pictureInPictureElement ? document.exitPictureInPicture() : video.requestPictureInPicture()
    ).catch(() => {}));
  }

  // YouTube's keys, while focus is in the player and not in a field that takes letters.
  function setUpKeys(player) {
    const {box, video} = player;
    const keys = {
      j: () => `Back ${KEY_STEP_S} seconds, at ${clock(player.seekTo(video.currentTime - KEY_STEP_S))}`,
      l: () => `Forward ${KEY_STEP_S} seconds, at ${clock(player.seekTo(video.currentTime + KEY_STEP_S))}`,
      k: () => { player.toggle(); return video.paused ? "Paused" : "Playing"; },
      m: () => { video.muted = !video.muted; return video.muted ? "Muted" : "Sound on"; },
      f: () => { const leaving = !!document.fullscreenElement; player.fullscreen(); return leaving ? "Full screen off" : "Full screen"; },
    };
    box.addEventListener("keydown", (event) => {
      const typing = event.target.closest("select, textarea, input:not([type=range]), [contenteditable]");
      if (typing || event.ctrlKey || event.metaKey || event.altKey || !(event.key in keys)) return;
      event.preventDefault();
      player.announce(keys[event.key]());
    });
  }

  // The poster chooser's time field takes the moment the player shows, to the tenth of a second.
  function offerPosterMoment(box, video) {
    const button = document.querySelector("#poster-now");
    const field = document.querySelector("#id_poster_time");
    if (!button || !field || box.dataset.growing) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const t = Math.round(video.currentTime * 10) / 10;
      const tenths = Math.round((t % 1) * 10);
      field.value = clock(t) + (tenths ? `.${tenths}` : "");
      field.focus();
    });
  }

  // Where the viewer left off, per asset in this browser: taken up again on the next visit.
  function setUpResume(player) {
    const {box, video, q, duration} = player;
    if (!box.dataset.resume || box.dataset.growing) return;
    const key = `media-position:${box.dataset.resume}`;
    const store = (() => { try { return window.localStorage; } catch (e) { return null; } })();
    if (!store) return;
    const worth = (t) => {
      const tail = Math.min(RESUME_TAIL.seconds, duration() * RESUME_TAIL.fraction);
      return t >= RESUME_FROM_S && t < duration() - tail;
    };
    const saved = Number(store.getItem(key));  // read before this visit's own events write
    let restored = false;  // nothing is written over it until it has been taken up
    const save = () => {
      if (!restored || !duration()) return;
      if (worth(video.currentTime)) store.setItem(key, video.currentTime.toFixed(1));
      else store.removeItem(key);
    };
    const note = q("#resume-note");
    const restore = () => {
      restored = true;
      if (box.dataset.continued || !saved || video.currentTime > 1 || !worth(saved)) return;
      player.seekTo(saved);
      note.querySelector("span").textContent = clock(saved);
      note.hidden = false;
    };
    q("#start-over").addEventListener("click", () => {
      player.seekTo(0);
      store.removeItem(key);
      note.hidden = true;
    });
    if (video.readyState >= 1) restore();
    else video.addEventListener("loadedmetadata", restore, {once: true});
    for (const name of ["seeked", "pause", "timeupdate"]) video.addEventListener(name, save);
    video.addEventListener("ended", () => store.removeItem(key));
    window.addEventListener("pagehide", save);
  }

  return {attach};
})();
