#!/usr/bin/env bash
# The app on a bare Debian, as root:
#   tools/check_bundle_bare.sh DIST/ScriptLens-<version>-linux-x86_64.tar.xz [WORKDIR]  (the download)
#   tools/check_bundle_bare.sh DIST/ScriptLens [WORKDIR]                              (a built folder)
#
# Builds (once, then reused from WORKDIR/base) a minimal Debian root filesystem with
# `debootstrap --variant=minbase` (no Python, no X, no Qt libraries), copies it afresh for
# each run, puts the app in, and in a chroot with an empty environment (env -i: HOME,
# PATH=/usr/bin:/bin):
#   0. an archive is unpacked in the chroot with its own `tar`, after installing only xz-utils
#      (priority "standard": on every Debian/Ubuntu desktop, not in minbase);
#   1. checks that there is no Python at all;
#   2. `ScriptLens --self-test` and `ScriptLens label` on the demo;
#   3. the window with DISPLAY set but no X libraries: expects the one-line message naming
#      what to install (not Qt's stock error);
#   4. installs only `xvfb` (apt-get --no-install-recommends), starts it, and checks that the
#      window starts and shows the demo's first detections (its own log lines);
#   5. `ScriptLens --self-test --window`: every dialog, settings, recent files, autosave.
# Exits non-zero at the first failed step. Needs: debootstrap, network to Debian's mirror.
set -euo pipefail
APP=$(realpath "${1:?usage: $0 DIST/ScriptLens-VERSION-linux-x86_64.tar.xz|DIST/ScriptLens [WORKDIR]}")
WORK=${2:-/tmp/scriptlens-bare}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
BASE=$WORK/base
ROOTFS=$WORK/rootfs
case "$APP" in
  *.tar.xz) [ -f "$APP" ] || { echo "no archive at $APP" >&2; exit 2; } ;;
  *) [ -x "$APP/ScriptLens" ] || { echo "no executable at $APP/ScriptLens" >&2; exit 2; } ;;
esac
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
run() { chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin "$@"; }
apt() { run DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
DEMO=/opt/ScriptLens/_internal/resources/demo
if [ -d "$APP" ]; then
  cp -a "$APP" "$ROOTFS/opt/ScriptLens"
else
  step "0. unpack $(basename "$APP") with the chroot's tar (after: apt-get install xz-utils)"
  cp "$APP" "$ROOTFS/opt/"
  apt update -qq >/dev/null
  apt install -y -qq --no-install-recommends xz-utils >"$WORK/apt-xz.log" 2>&1 || { tail -20 "$WORK/apt-xz.log"; exit 1; }
  run tar -C /opt -xf "/opt/$(basename "$APP")"
  rm "$ROOTFS/opt/$(basename "$APP")"
  echo "unpacked: $(du -sh "$ROOTFS/opt/ScriptLens" | cut -f1)"
fi

step "1. no Python in the chroot"
if run sh -c 'ls /usr/bin/python* /usr/local/bin/python* 2>/dev/null'; then echo "FAIL: Python found" >&2; exit 1; fi
echo "none (debian $(cat "$ROOTFS/etc/debian_version"), $(du -sh --exclude=opt "$ROOTFS" 2>/dev/null | cut -f1) before the app)"

step "2a. ScriptLens --self-test"
run /opt/ScriptLens/ScriptLens --self-test

step "2b. ScriptLens label on the demo"
run /opt/ScriptLens/ScriptLens label --model $DEMO/shapes.torchscript --images $DEMO/images --out /tmp/labels
n=$(run sh -c 'ls /tmp/labels/*.txt | grep -v classes.txt | wc -l')
[ "$n" = 30 ] || { echo "FAIL: $n label files, expected 30" >&2; exit 1; }
# the default backend (auto: ONNX Runtime on the demo) against the reference of that backend;
# data.yaml names where the demo is installed, so it differs by design (cli/self_test.py)
backend=$(grep -o '"backend": *"[a-z]*"' "$ROOTFS/tmp/labels/scriptlens_manifest.json" | head -1 | sed 's/.*"\([a-z]*\)"$/\1/')
diff -r -q -x scriptlens_manifest.json -x data.yaml "$ROOTFS/tmp/labels" \
  "$ROOTFS/opt/ScriptLens/_internal/resources/selftest_reference/$backend" \
  || { echo "FAIL: the labels differ from the build's $backend reference" >&2; exit 1; }
echo "30 label files, identical to the build's pip-installed reference ($backend)"

step "3. the window without X libraries: one line, not Qt's error"
set +e
out=$(run DISPLAY=:99 /opt/ScriptLens/ScriptLens 2>&1); rc=$?
set -e
echo "exit $rc: $out"
[ "$rc" = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "apt-get install" \
  || { echo "FAIL: expected one line naming the packages" >&2; exit 1; }

step "4. apt-get install --no-install-recommends xvfb (and nothing else)"
apt update -qq >/dev/null
apt install -y -qq --no-install-recommends xvfb >"$WORK/apt.log" 2>&1 \
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

step "5. ScriptLens --self-test --window (dialogs, settings, recent files, autosave)"
run sh -c 'Xvfb :99 -screen 0 1280x800x24 -nolisten tcp >/tmp/xvfb.log 2>&1 & echo $! > /tmp/xvfb.pid'
sleep 2
set +e
run DISPLAY=:99 /opt/ScriptLens/ScriptLens --self-test --window 2>&1 | tee "$WORK/window_self_test.log" | grep "self-test"
set -e
kill "$(cat "$ROOTFS/tmp/xvfb.pid")" 2>/dev/null || true
tail -1 "$WORK/window_self_test.log" | grep -qx "self-test --window: passed" || { echo "FAIL: the window self-test" >&2; exit 1; }
step "bare Debian: all checks passed"
