#!/usr/bin/env bash
# Build a virtual environment with the peer tools (properimage, sfft) next to AstrID, for the
# side-by-side benchmark (benchmarks/peers.py) and its tests (pytest -m peers). The peers
# never enter the project's own environment: sfft needs an older NumPy than AstrID's default.
# Usage: bash scripts/peers-venv.sh VENV_DIR     (SExtractor comes from Debian when root)
set -euo pipefail
venv=${1:?usage: scripts/peers-venv.sh VENV_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$venv"
# setuptools < 81 still ships pkg_resources, which tinynpydb's ez_setup looks for.
"$venv/bin/pip" install --quiet --upgrade pip wheel 'setuptools<81'
# properimage needs tinynpydb, whose setup.py imports ez_setup (which downloads setuptools):
# fetch the sdist, drop ez_setup from setup.py, install the folder.
(cd "$work" && "$venv/bin/pip" download --quiet --no-deps --no-binary :all: \
    --no-build-isolation 'tinynpydb==0.1.2')
tar xzf "$work"/tinynpydb-0.1.2.tar.gz -C "$work"
sed -i -e '/^from ez_setup import use_setuptools/d' -e '/^use_setuptools()/d' \
    -e 's/py_modules=("ez_setup", "tinynpydb")/py_modules=("tinynpydb",)/' \
    "$work"/tinynpydb-0.1.2/setup.py
"$venv/bin/pip" install --quiet --no-build-isolation "$work"/tinynpydb-0.1.2
# sfft 1.7.3 calls np.in1d, which NumPy 2.4 removed: an older NumPy in this venv only.
"$venv/bin/pip" install --quiet -e "$root[test]" 'properimage==0.7.2' 'sfft==1.7.3' \
    fastremap numba pyfftw 'numpy>=2.3,<2.4'
# sfft's automatic preprocessing runs SExtractor as `sex` (Debian names it source-extractor).
if ! command -v source-extractor > /dev/null && [ "$(id -u)" = 0 ] \
        && command -v apt-get > /dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq source-extractor > /dev/null
fi
if command -v source-extractor > /dev/null; then
    ln -sf "$(command -v source-extractor)" "$venv/bin/sex"
fi
"$venv/bin/python" -c "import properimage, sfft; print('peers venv ready:', '$venv')"
