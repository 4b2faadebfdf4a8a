#!/usr/bin/env bash
# Build (or reuse) the test-only Ultralytics venv: the real dataset checker and trainer that
# tests/roundtrip/ hand our label files to. Ultralytics is AGPL: it is never a dependency of
# ScriptLens, never imported by it, and lives only in this separate venv, outside the checkout.
#
# Why a venv of its own: Ultralytics imports torchvision, and PyPI's torchvision fails to import
# beside our torch 2.13 CPU build ("operator torchvision::nms does not exist"). torch 2.14.1 +
# torchvision 0.29.1 is a pair that pip takes from this machine's disk (x86_64, Python 3.11);
# it is a CUDA build of ~5.5 GB that runs on the CPU.
#
# Usage: tools/ultralytics_venv.sh [DIR]   -> prints DIR/bin/python on its last line
# DIR defaults to $SCRIPTLENS_ULTRALYTICS_VENV, else ~/.cache/scriptlens/ultralytics-<versions>.
# A venv that finished building (marker file) is reused; a half-built one is rebuilt.
set -euo pipefail
ULTRALYTICS_VERSION=8.4.190   # the version the round-trip tests were written and passed against
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
TAG="ultralytics-${ULTRALYTICS_VERSION}-torch-${TORCH_VERSION}"
DIR="${1:-${SCRIPTLENS_ULTRALYTICS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/scriptlens/${TAG}}}"
MARKER="$DIR/.scriptlens-ready-${TAG}"
ONNX_VERSION=1.23.2           # Ultralytics' ONNX exporter writes the file with it (tests/roundtrip/test_ultralytics_onnx.py)
if [[ -f "$MARKER" && -x "$DIR/bin/python" ]]; then
    if [[ ! -f "$DIR/.scriptlens-onnx-${ONNX_VERSION}" ]]; then   # a venv built before the ONNX test: add it
        "$DIR/bin/pip" install -q --disable-pip-version-check "onnx==${ONNX_VERSION}" >&2 && touch "$DIR/.scriptlens-onnx-${ONNX_VERSION}"
    fi
    echo "$DIR/bin/python"
    exit 0
fi
rm -rf "$DIR"
mkdir -p "$(dirname "$DIR")"
start=$(date +%s)
python3 -m venv "$DIR"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
"$DIR/bin/pip" install -q "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" >&2
# The pins above keep pip from replacing torch while resolving Ultralytics' own requirements.
"$DIR/bin/pip" install -q "ultralytics==${ULTRALYTICS_VERSION}" "torch==${TORCH_VERSION}" \
    "torchvision==${TORCHVISION_VERSION}" >&2
"$DIR/bin/pip" install -q "onnx==${ONNX_VERSION}" >&2 && touch "$DIR/.scriptlens-onnx-${ONNX_VERSION}"
"$DIR/bin/python" -c "import ultralytics, torchvision; print('ultralytics', ultralytics.__version__, 'torchvision', torchvision.__version__)" >&2
echo "built in $(( $(date +%s) - start )) s" >&2
touch "$MARKER"
echo "$DIR/bin/python"
