#!/usr/bin/env bash
# Install AstrID with its test extras and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests (tests/web) drive the system Chromium from Debian, never a downloaded one.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
fi
# The PostgreSQL tests start a throw-away server from Debian's binaries (initdb, pg_ctl).
if ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    && command -v apt-get > /dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql > /dev/null
fi
python -m pip install --quiet --upgrade pip
# The train extra (PyTorch CPU, onnx) so the training tests run too.
python -m pip install --quiet -e '.[test,train]'
# Real GOTO frames used by the real-data tests: the wheel's data files only.
python -m pip install --quiet --no-deps 'zogyp==1.6.3'
ruff check src tests benchmarks
ruff format --check src tests benchmarks
mypy
# In CI every test must run: a skip (a missing tool or data set) fails the run.
if [ "${CI:-}" = true ]; then export ASTRID_FAIL_ON_SKIP=1; fi
python -m pytest -n 2 -m "not peers" "$@"
# The catalog, API, worker and pipeline tests again on the at-scale components: a PostgreSQL
# catalog and an S3 store (tests/server_catalog.py: every file catalog a test opens becomes
# a database on a throw-away PostgreSQL server, every local store a folder of a bucket on
# moto's S3 server); tests of SQLite itself and of the local store's files are deselected.
if [ $# -eq 0 ]; then
    ASTRID_TEST_CATALOG=postgresql ASTRID_TEST_STORE=s3 python -m pytest -n 2 -m "not peers" \
        tests/catalog tests/api tests/pipeline
fi
# The peer tools (properimage, sfft) live in a venv of their own (sfft needs an older NumPy);
# CI builds it and runs the side-by-side tests there. Elsewhere: ASTRID_PEERS=1 to do the same.
if [ "${CI:-}" = true ] || [ "${ASTRID_PEERS:-}" = 1 ]; then
    peers=$(mktemp -d)/peers-venv
    bash scripts/peers-venv.sh "$peers"
    "$peers/bin/python" -m pytest -p no:cacheprovider -m peers tests/benchmarks
    rm -rf "$(dirname "$peers")"
else
    echo "peer comparison tests (-m peers) not run: set ASTRID_PEERS=1 (builds their venv)"
fi
