#!/usr/bin/env bash
# The app on a bare Debian: `tools/check_bundle_bare.sh DIST/ScriptLens [WORKDIR]` (as root).
#
# Builds (once, then reused from WORKDIR/base) a minimal Debian root filesystem with
# `debootstrap --variant=minbase` (no Python, no X, no Qt libraries), copies it afresh for
# each run, copies the app in, and in a chroot with an empty environment (env -i: HOME,
# PATH=/usr/bin:/bin):
#   1. checks that there is no Python at all;
#   2. `ScriptLens --self-test` and `ScriptLens label` on the demo;
#   3. the window with DISPLAY set but no X libraries: expects the one-line message naming
#      what to install (not Qt's stock error);
#   4. installs only `xvfb` (apt-get --no-install-recommends), starts it, and checks that the
#      window starts and shows the demo's first detections (its own log lines).
# Exits non-zero at the first failed step. Needs: debootstrap, network to Debian's mirror.
set -euo pipefail
APP=$(realpath "${1:?usage: $0 DIST/ScriptLens [WORKDIR]}")
WORK=${2:-/tmp/scriptlens-bare}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
BASE=$WORK/base
ROOTFS=$WORK/rootfs
[ -x "$APP/ScriptLens" ] || { echo "no executable at $APP/ScriptLens" >&2; exit 2; }
step() { echo "== $(date +%T) $*"; }

if [ ! -x "$BASE/bin/sh" ]; then
  step "debootstrap --variant=minbase $SUITE (once; reused from $BASE)"
  mkdir -p "$WORK"
  debootstrap --variant=minbase "$SUITE" "$BASE.tmp" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  mv "$BASE.tmp" "$BASE"
fi
cleanup() {
  for m in dev/pts dev proc; do mountpoint -q "$ROOTFS/$m" && umount -l "$ROOTFS/$m" || true; done
}
trap cleanup EXIT
cleanup
rm -rf "$ROOTFS"
cp -a "$BASE" "$ROOTFS"
mount -t proc proc "$ROOTFS/proc"
mount --bind /dev "$ROOTFS/dev"
mount --bind /dev/pts "$ROOTFS/dev/pts"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
cp -a "$APP" "$ROOTFS/opt/ScriptLens"
run() { chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin "$@"; }
DEMO=/opt/ScriptLens/_internal/resources/demo

step "1. no Python in the chroot"
if run sh -c 'ls /usr/bin/python* /usr/local/bin/python* 2>/dev/null'; then echo "FAIL: Python found" >&2; exit 1; fi
echo "none (debian $(cat "$ROOTFS/etc/debian_version"), $(du -sh --exclude=opt "$ROOTFS" 2>/dev/null | cut -f1) before the app)"

step "2a. ScriptLens --self-test"
run /opt/ScriptLens/ScriptLens --self-test

step "2b. ScriptLens label on the demo"
run /opt/ScriptLens/ScriptLens label --model $DEMO/shapes.torchscript --images $DEMO/images --out /tmp/labels
n=$(run sh -c 'ls /tmp/labels/*.txt | grep -v classes.txt | wc -l')
[ "$n" = 30 ] || { echo "FAIL: $n label files, expected 30" >&2; exit 1; }
diff -r -x scriptlens_manifest.json "$ROOTFS/tmp/labels" "$ROOTFS/opt/ScriptLens/_internal/resources/selftest_reference/torchscript" \
  && echo "30 label files, identical to the build's pip-installed reference"

step "3. the window without X libraries: one line, not Qt's error"
set +e
out=$(run DISPLAY=:99 /opt/ScriptLens/ScriptLens 2>&1); rc=$?
set -e
echo "exit $rc: $out"
[ "$rc" = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "apt-get install" \
  || { echo "FAIL: expected one line naming the packages" >&2; exit 1; }

step "4. apt-get install --no-install-recommends xvfb (and nothing else)"
run DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
run DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends xvfb >"$WORK/apt.log" 2>&1 \
  || { tail -20 "$WORK/apt.log"; exit 1; }
echo "installed: $(grep -c '^Setting up' "$WORK/apt.log") packages"
run sh -c 'Xvfb :99 -screen 0 1280x800x24 -nolisten tcp >/tmp/xvfb.log 2>&1 & echo $! > /tmp/xvfb.pid'
sleep 2
run sh -c 'DISPLAY=:99 timeout 120 /opt/ScriptLens/ScriptLens -v >/tmp/window.log 2>&1 & echo $! > /tmp/window.pid'
ok=""
for _ in $(seq 1 120); do
  if grep -q "first detections shown" "$ROOTFS/tmp/window.log"; then ok=1; break; fi
  kill -0 "$(cat "$ROOTFS/tmp/window.pid")" 2>/dev/null || break  # it ended: no use waiting
  sleep 1
done
kill "$(cat "$ROOTFS/tmp/window.pid")" 2>/dev/null || true
sleep 2
kill "$(cat "$ROOTFS/tmp/xvfb.pid")" 2>/dev/null || true
grep -E "ScriptLens:|window shown|first detections shown|qt\.|Detected locale|rror" "$ROOTFS/tmp/window.log" | sed 's/^/  window: /' | head -20
[ -n "$ok" ] || { echo "FAIL: the window showed no detections in 120 s" >&2; tail -20 "$ROOTFS/tmp/window.log"; exit 1; }
if grep -q "Detected locale" "$ROOTFS/tmp/window.log"; then echo "FAIL: locale warning" >&2; exit 1; fi
step "bare Debian: all checks passed"
