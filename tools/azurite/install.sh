#!/usr/bin/env sh
# Install the pinned Azurite (package-lock.json) into tools/azurite/node_modules.
# Idempotent: does nothing when node_modules/.bin/azurite-blob already exists.
# Used by .ci/run and make before the test suite; needs node and npm on PATH.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)

if [ -x "$here/node_modules/.bin/azurite-blob" ]; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "tools/azurite/install.sh: npm not found; install Node.js 20+ to run the Azurite tests" >&2
    exit 1
fi

cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "tools/azurite/install.sh: installed azurite $(node -p 'require("./node_modules/azurite/package.json").version')"
