// The result player's own controls: one seek bar (a range input, so keyboard, touch and mouse
// all work) that shows the sprite sheet's picture of the time under the pointer, the finger or
// the keyboard's new position. They replace the browser's controls only once the previews are
// loaded: without a sprite (or JavaScript) the native controls stay.
window.MediaControls = (function () {
  const STEP_S = 5;  // the arrow keys' jump, as in most players

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
    const response = await fetch(url, {credentials: "same-origin"});
    return response.ok ? parseVtt(await response.text(), new URL(url, location.href)) : [];
  }

  function preview(parts, cues, time, fraction) {
    const cue = cues.find((c) => time >= c.start && time < c.end) || cues[cues.length - 1];
    const {box, label, seek} = parts;
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

  async function attach(box, video) {
    if (!box.dataset.spriteVtt || box.dataset.controls) return;
    box.dataset.controls = "loading";
    const cues = await loadCues(box.dataset.spriteVtt);
    const bar = box.querySelector("#scrub");
    if (!cues.length || !bar) return;
    const q = (id) => bar.querySelector(id);
    const parts = {box: q("#scrub-preview"), label: q("#scrub-time"), seek: q("#seek")};
    const {seek} = parts;
    const duration = () => (Number.isFinite(video.duration) && video.duration) || cues[cues.length - 1].end;
    let hideSoon = null;
    let dragging = false;  // a pointer holds the thumb: playback must not pull it back
    const show = (time) => {
      clearTimeout(hideSoon);
      preview(parts, cues, time, time / duration());
    };
    const hide = (after = 0) => {
      clearTimeout(hideSoon);
      hideSoon = setTimeout(() => parts.box.classList.remove("visible"), after);
    };
    const seekTo = (time) => {
      const to = Math.min(duration(), Math.max(0, time));
      video.currentTime = to;
      seek.value = String(to);
      show(to);
      render();
    };
    function render() {
      seek.max = String(duration());
      if (!dragging) seek.value = String(video.currentTime);
      seek.setAttribute("aria-valuetext", `${clock(video.currentTime)} of ${clock(duration())}`);
      q("#time").textContent = `${clock(video.currentTime)} / ${clock(duration())}`;
      const play = q("#play");
      play.textContent = video.paused ? "▶" : "❚❚";
      play.setAttribute("aria-label", video.paused ? "Play" : "Pause");
      q("#mute").setAttribute("aria-pressed", String(video.muted));
    }
    const toggle = () => (video.paused ? video.play().catch(() => {}) : video.pause());

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
    seek.addEventListener("input", () => seekTo(Number(seek.value)));
    seek.addEventListener("change", () => hide(800));
    seek.addEventListener("blur", () => hide());
    seek.addEventListener("keydown", (event) => {
      const jumps = {
        ArrowLeft: -STEP_S, ArrowDown: -STEP_S, ArrowRight: STEP_S, ArrowUp: STEP_S,
        PageDown: -duration() / 10, PageUp: duration() / 10,
      };
      if (event.key in jumps) seekTo(video.currentTime + jumps[event.key]);
      else if (event.key === "Home") seekTo(0);
      else if (event.key === "End") seekTo(duration());
      else if (event.key === " " || event.key === "k") toggle();
      else return;
      event.preventDefault();
      hide(1200);  // the keyboard's preview stays long enough to be seen
    });
    q("#play").addEventListener("click", toggle);
    video.addEventListener("click", toggle);
    q("#mute").addEventListener("click", () => { video.muted = !video.muted; });
    q("#fullscreen").addEventListener("click", () => (
      document.fullscreenElement ? document.exitFullscreen() : box.requestFullscreen()
    ));
    for (const name of ["timeupdate", "durationchange", "play", "pause", "volumechange", "seeked"]) {
      video.addEventListener(name, render);
    }
    video.controls = false;
    bar.hidden = false;
    box.dataset.controls = "own";
    render();
  }

  return {attach};
})();
