#!/usr/bin/env bash
# Installs what wharf needs, builds the chat sample and runs it. Arguments go to
# wharf-chat:  scripts/run-chat.sh --port 9000   (see wharf-chat --help)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
buildDir=${WHARF_BUILD_DIR:-build}   # override: WHARF_BUILD_DIR=build-x
jobs=${WHARF_JOBS:-$(nproc)}          # override: WHARF_JOBS=1 on a busy machine

scripts/install-deps.sh
echo "run-chat: configuring ($buildDir/) ..."
cmake -S . -B "$buildDir" -DCMAKE_BUILD_TYPE=Release --log-level=WARNING
echo "run-chat: building wharf-chat ..."
cmake --build "$buildDir" --target wharf-chat -j"$jobs"
exec "$buildDir"/samples/chat/wharf-chat "$@"
