#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite; arguments, if any, replace the default `tests` target of pytest.
set -e
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$REPO/tools/setup_env.sh"
cd "$REPO"
# The first run compiles Jittor's core and kernels (minutes); later runs use ~/.cache/jittor.
python -c "from dformer_seg import runtime; runtime.setup(); import jittor"
set +e
if [ "$#" -eq 0 ]; then
    # The whole suite starts with the lint (ruff.toml); a part of it (arguments given) skips it.
    python -m ruff check . || exit 1
    set -- tests
fi
python -m pytest -q "$@"
status=$?
set -e
if [ "$status" = "5" ]; then
    echo "no tests were collected" >&2
    exit 1
fi
exit $status
