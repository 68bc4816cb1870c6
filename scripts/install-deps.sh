#!/usr/bin/env bash
# Installs the Debian 12 packages wharf needs to build (and, with --tests, to run its
# browser end-to-end test and the interop tests with Python's websockets). Installs only
# what is missing; does nothing when all is there.
#
#   scripts/install-deps.sh            build dependencies
#   scripts/install-deps.sh --tests    also node, npm and chromium for tests/e2e,
#                                      python3-websockets for tests/interop, and the
#                                      Prometheus text parser the metrics test reads /metrics with,
#                                      and redis-server and nginx for the cluster tests (tests start
#                                      their own on free loopback ports)
#
# Not root and something missing: prints the one `sudo apt-get install ...` line to run
# and exits with status 1.
set -euo pipefail

usage() {
    echo "usage: $0 [--tests]" >&2
    exit 2
}

withTests=0
for arg in "$@"; do
    case "$arg" in
        --tests) withTests=1 ;;
        -h|--help) usage ;;
        *) echo "install-deps: unknown argument '$arg'" >&2; usage ;;
    esac
done

packages=(libboost1.81-dev libfmt-dev doctest-dev libssl-dev zlib1g-dev libcli11-dev
          libhiredis-dev cmake g++ make pkg-config)
if [[ $withTests == 1 ]]; then
    packages+=(nodejs npm chromium python3 python3-websockets python3-prometheus-client
               redis-server nginx-light)
fi

# True when the package (or what it stands for) is already present.
isPresent() {
    local package=$1
    if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
        return 0
    fi
    case "$package" in
        # NodeSource's nodejs bundles npm (and Provides/Conflicts the Debian npm package);
        # a node or npm on PATH from anywhere else is fine too.
        nodejs) command -v node >/dev/null 2>&1 ;;
        npm) command -v npm >/dev/null 2>&1 ;;
        *) return 1 ;;
    esac
}

missing=()
for package in "${packages[@]}"; do
    isPresent "$package" || missing+=("$package")
done

if [[ ${#missing[@]} == 0 ]]; then
    echo "install-deps: all ${#packages[@]} required packages are installed"
    exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [[ $(id -u) != 0 ]]; then
    echo "install-deps: not running as root; install them with:" >&2
    echo "sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "install-deps: apt-get update ..."
if ! apt-get -o DPkg::Lock::Timeout=300 update -q >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-deps: apt-get update failed (see above)" >&2
    exit 1
fi
echo "install-deps: apt-get install ${missing[*]} ..."
if ! apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-deps: apt-get install failed (see above)" >&2
    exit 1
fi
echo "install-deps: installed ${missing[*]}"
