#!/usr/bin/env bash
# Install what dformer_seg needs, once: system packages (oneDNN for fast CPU convolutions,
# OpenMPI for multi-process training, an ARM cross compiler for the kernel checks of the test
# suite, a headless Chromium that the tests open the HTML evaluation report in) where this user may install them, and the Python
# packages in a virtual environment at .venv (set DFORMER_SEG_VENV to put it elsewhere).
# Re-running is fast: nothing is reinstalled unless requirements/ or setup.py changed.
# Afterwards, `source tools/setup_env.sh` leaves the venv active in the calling shell.
set -e
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DFORMER_SEG_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"

install_system_packages() {
    # g++-aarch64-linux-gnu: the test suite compiles every fast-op kernel for ARM as well (x86 hosts).
    # chromium-headless-shell: the report tests load the HTML report in a real browser.
    local wanted="libdnnl-dev openmpi-bin libopenmpi-dev g++ chromium-headless-shell"
    case "$(uname -m)" in x86_64|amd64) wanted="$wanted g++-aarch64-linux-gnu" ;; esac
    local missing=""
    for pkg in $wanted; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "[setup] not a Debian/Ubuntu system: install$missing yourself (oneDNN makes CPU convolutions ~60x faster)" >&2
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" != "0" ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
            echo "[setup] cannot install system packages without root: run 'sudo apt-get install$missing'" >&2
            return 0
        fi
    fi
    echo "[setup] installing system packages:$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
}

install_python_packages() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "[setup] creating virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.dformer_seg-installed"
    local digest
    digest="$(cat "$REPO/setup.py" "$REPO"/requirements/*.txt | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return 0
    fi
    echo "[setup] installing Python packages into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$REPO[tests,deploy]"
    echo "$digest" > "$stamp"
}

install_system_packages
install_python_packages
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
