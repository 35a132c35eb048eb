#!/usr/bin/env bash
# Swift on Debian 12: Debian 13 (trixie) packages Swift 6 as `swiftlang`, so Swift runs in a debootstrap'd root.
#   trixie.sh install      make the root at $TRIXIE (default /opt/trixie) unless it already has swiftc (idempotent)
#   trixie.sh run CMD      run CMD in the root from /work/shoplens, this repository bind-mounted there, /proc too
# Needs root; whatever happens, what it mounted is unmounted on exit.
set -euo pipefail
R="${TRIXIE:-/opt/trixie}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"

mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" || true
  done
}
trap cleanup EXIT

bind() { # bind SRC DEST: mount unless something already is
  mkdir -p "$2"
  if ! mountpoint -q "$2"; then
    mount --bind "$1" "$2"
    mounts+=("$2")
  fi
}

case "${1:-}" in
  install)
    [ -x "$R/usr/bin/swiftc" ] && exit 0
    command -v debootstrap >/dev/null 2>&1 || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    # A root left half-made by an interrupted run is completed by apt rather than made again.
    [ -x "$R/usr/bin/apt-get" ] || debootstrap --variant=minbase trixie "$R" http://deb.debian.org/debian >/dev/null
    bind /proc "$R/proc"
    chroot "$R" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends swiftlang libc6-dev libstdc++-14-dev >/dev/null'
    [ -x "$R/usr/bin/swiftc" ]
    ;;
  run)
    shift
    bind /proc "$R/proc"
    bind "$REPO" "$R/work/shoplens"
    chroot "$R" bash -c "cd /work/shoplens && $*"
    ;;
  *)
    echo "usage: $0 install | run CMD" >&2
    exit 2
    ;;
esac
