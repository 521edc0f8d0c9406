#!/usr/bin/env bash
# Run a tool under MPI: tools/mpi_run.sh NUM_PROCESSES TOOL.py [arguments ...]  (used by dist_train.sh / dist_test.sh)
set -euo pipefail
NPROC=$1
TOOL=$2
shift 2
MPI_OPTS=()
if [ "$(id -u)" = "0" ]; then
    MPI_OPTS+=(--allow-run-as-root)
fi
# Every process would otherwise start one OpenMP thread per core.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / NPROC > 0 ? $(nproc) / NPROC : 1 ))}
exec mpirun "${MPI_OPTS[@]}" -np "$NPROC" -x OMP_NUM_THREADS -x PYTHONPATH python "$TOOL" "$@"
