#!/usr/bin/env bash
# Installs what wharf and its tests need, builds everything and runs every test
# (unit, integration, docs, packaging and the headless-browser e2e test).
# Exits with ctest's status.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
buildDir=${WHARF_BUILD_DIR:-build}   # override: WHARF_BUILD_DIR=build-x
jobs=${WHARF_JOBS:-$(nproc)}          # override: WHARF_JOBS=1 on a busy machine

scripts/install-deps.sh --tests
echo "run-tests: configuring ($buildDir/) ..."
cmake -S . -B "$buildDir" -DCMAKE_BUILD_TYPE=Release --log-level=WARNING
echo "run-tests: building ..."
cmake --build "$buildDir" -j"$jobs"

# The e2e test's node packages (exact versions from package-lock.json); reinstalled only
# when the installed playwright-core is not the pinned one.
pinned=$(node -p "require('./tests/e2e/package.json').devDependencies['playwright-core']")
installed=$(node -p "try { require('./tests/e2e/node_modules/playwright-core/package.json').version } catch { '' }")
if [[ "$installed" != "$pinned" ]]; then
    echo "run-tests: installing playwright-core $pinned into tests/e2e/node_modules ..."
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "run-tests: running tests ..."
# Every test binds port 0, so two at a time is safe.
exec ctest --test-dir "$buildDir" --output-on-failure -j2
