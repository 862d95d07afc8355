#!/usr/bin/env bash
# Install the shared libraries Qt 6, OpenGL and QtMultimedia (PulseAudio client) need, when missing and when we
# may (root with apt). Quiet when everything is there already.
set -euo pipefail
need=()
for lib in libEGL.so.1 libGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libdbus-1.so.3 libxcb-cursor.so.0 libpulse.so.0; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || need+=("$lib")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "remask: Qt needs these system libraries: ${need[*]} (install them with your package manager)" >&2
  exit 0
fi
echo "remask: installing Qt system libraries (${need[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 \
  libglib2.0-0 libpulse0 libpulse-mainloop-glib0 >/dev/null
