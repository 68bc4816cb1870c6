#!/usr/bin/env bash
# Installs what wharf needs, builds the chat sample and runs it. Arguments go to
# wharf-chat:  scripts/run-chat.sh --port 9000   (see wharf-chat --help)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
echo "run-chat: configuring (build/) ..."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release --log-level=WARNING
echo "run-chat: building wharf-chat ..."
cmake --build build --target wharf-chat -j"$(nproc)"
exec build/samples/chat/wharf-chat "$@"
