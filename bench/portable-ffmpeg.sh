#!/bin/sh
# Builds Debian's own ffmpeg source (the version the workers run) into a tarball that runs on
# another x86-64 Linux box where ffmpeg cannot be installed (a lent GPU box with no package
# registry), for `bench/run.py --only manycore gpu` there. Only libx264 and the NVIDIA codec
# headers are linked in: NVENC/NVDEC are loaded from the driver at run time, and scale_cuda is
# built with clang (--enable-cuda-llvm), as in Debian's package.
#   bench/portable-ffmpeg.sh OUT.tar.xz
#   there: tar -C /opt/ff -xJf OUT.tar.xz; PATH=/opt/ff/bin:$PATH LD_LIBRARY_PATH=/opt/ff/lib ...
set -eu
out=$(realpath "${1:?usage: bench/portable-ffmpeg.sh OUT.tar.xz}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
apt-get install -y -qq nasm clang libx264-dev libffmpeg-nvenc-dev dpkg-dev >/dev/null
release=$(dpkg-query -W -f '${Version}' ffmpeg)  # 7:5.1.9-0+deb12u1
version=${release#*:}
version=${version%%-*}
# Debian's sources list carries no deb-src line: fetch the same release's source from it.
src=/etc/apt/sources.list.d/portable-ffmpeg-src.sources
sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src"
trap 'rm -rf "$work" "$src"; apt-get update -qq' EXIT
apt-get update -qq
(cd "$work" && apt-get source -qq --download-only "ffmpeg=$release")
tar -C "$work" -xJf "$work/ffmpeg_$version.orig.tar.xz"
cd "$work/ffmpeg-$version"
./configure --prefix="$work/install" --enable-gpl --enable-libx264 --disable-autodetect --enable-zlib \
    --enable-ffnvcodec --enable-nvenc --enable-nvdec --enable-cuvid --enable-cuda-llvm \
    --disable-doc --disable-ffplay --disable-debug >/dev/null
make -j"$(nproc)" >/dev/null
mkdir -p "$work/pack/bin" "$work/pack/lib"
strip -o "$work/pack/bin/ffmpeg" ffmpeg
strip -o "$work/pack/bin/ffprobe" ffprobe
cp -L "$(ldconfig -p | awk '/libx264\.so\.[0-9]+ .*x86-64/ {print $NF; exit}')" "$work/pack/lib/"
tar -C "$work/pack" -cJf "$out" bin lib
echo "$out: ffmpeg $version with libx264, NVENC/NVDEC and scale_cuda"
