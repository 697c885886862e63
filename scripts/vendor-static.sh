#!/usr/bin/env bash
# Vendors the browser libraries (Uppy, hls.js, htmx, dash.js) from the npm registry into
# static/vendor/, at build time: pages never load code from a CDN. Versions are
# pinned in package.json / package-lock.json; re-runs are no-ops when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=static/vendor
stamp="$out/.lock-$(cat package-lock.json "$0" | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && exit 0

echo "==> npm ci (Uppy, hls.js, htmx, dash.js) into $out"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
rm -rf "$out" && mkdir -p "$out"
# The source maps too: the bundles name them, and collectstatic's manifest insists they exist.
cp node_modules/uppy/dist/uppy.min.js node_modules/uppy/dist/uppy.min.js.map node_modules/uppy/dist/uppy.min.css "$out/"
cp node_modules/hls.js/dist/hls.min.js node_modules/hls.js/dist/hls.min.js.map "$out/"
cp node_modules/htmx.org/dist/htmx.min.js "$out/"
# dash.js, the DASH-IF reference player, for the MPD (`dash_url`): it plays our SegmentList of byte
# ranges into one CMAF file with a SegmentTimeline (Shaka Player does too; dash.js is the reference
# for what a DASH client must accept). The player-only bundle: no MSS, offline or DRM modules.
umd=node_modules/dashjs/dist/modern/umd
cp "$umd/dash.mediaplayer.min.js" "$umd/dash.mediaplayer.min.js.map" "$umd/dash.mediaplayer.min.js.LICENSE.txt" "$out/"
for pkg in uppy hls.js htmx.org dashjs; do cp "node_modules/$pkg/LICENSE"* "$out/LICENSE.$pkg" 2>/dev/null || true; done
touch "$stamp"
