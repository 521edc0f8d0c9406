#!/usr/bin/env bash
# Sharded multi-process evaluation with MPI: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py options]
# Each process evaluates its share of the test set; the confusion matrices are summed, so the metrics are
# those of a single-process run. --out/--show-dir files are written by the process that predicted them.
set -euo pipefail
if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_PROCESSES [tools/test.py options ...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/mpi_run.sh" "$NPROC" "$HERE/test.py" "$CONFIG" "$CHECKPOINT" "$@"
