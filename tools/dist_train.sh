#!/usr/bin/env bash
# Multi-process data-parallel training with MPI: tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]
# The config's batch_size is per process (total batch = batch_size x NUM_PROCESSES).
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCESSES [tools/train.py options ...]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/mpi_run.sh" "$NPROC" "$HERE/train.py" "$CONFIG" "$@"
