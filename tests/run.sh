#!/usr/bin/env bash
# The README's test command: sets up what the tests need on a fresh Debian machine, then runs
# every test of the workspace. Arguments go to `cargo test` (e.g. `tests/run.sh -p engine`).
#
# The tests talk to real programs: DuckDB and Polars re-compute every metric, openpyxl reads
# the workbook back, deltalake (delta-rs) reads the warehouse's tables, psycopg and psql talk to
# the SQL server, moto's S3 server holds the tables of a warehouse made with `init --tables`,
# Chromium opens the HTML report and (through chromium-driver and selenium) drives the web
# console.
# The Python modules go into a virtual environment under the build directory (nothing is
# installed into the system's Python); Chromium, psql (and Python's venv module, where Debian
# splits it off) come from apt when they are missing and this user may install packages (root,
# or sudo without a password).
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
venv="$(cd "$target" && pwd)/test-python"
modules=(duckdb polars pyarrow openpyxl "psycopg[binary]" selenium deltalake "moto[server]")

step() { printf '== %s\n' "$1" >&2; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ ! -x "$venv/bin/python3" ] && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt=(apt-get)
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        apt=(sudo apt-get)
    else
        echo "the tests need ${missing[*]}: install them (apt-get install ${missing[*]}) and run again" >&2
        exit 1
    fi
    step "installing ${missing[*]} (apt)"
    "${apt[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python3" ]; then
    step "a Python environment for the tests: $venv"
    python3 -m venv "$venv"
fi
missing_modules=()
for module in "${modules[@]}"; do
    "$venv/bin/python3" -c "import ${module%%[*}" 2>/dev/null || missing_modules+=("$module")
done
if [ ${#missing_modules[@]} -gt 0 ]; then
    step "installing ${missing_modules[*]} (pip, into that environment)"
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "${missing_modules[@]}"
fi
# The tests start `python3`: this one, with the modules.
export PATH="$venv/bin:$PATH"

step "cargo test --workspace $*"
exec cargo test --workspace "$@"
