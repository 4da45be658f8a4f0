#!/usr/bin/env bash
# Pin the container image's Python dependencies, with hashes, from pyproject.toml (uv).
#
#   tools/lock.sh             update the lock files after changing dependencies in
#                             pyproject.toml (versions already pinned are kept if they still fit)
#   tools/lock.sh --upgrade   move every pin to the newest version pyproject.toml allows
#   tools/lock.sh --check     fail if a lock file is out of date with pyproject.toml (CI runs it)
#
# requirements.lock         what the bot and the web page need at run time (the default image
#                           installs exactly this). Without pip: sqlite-utils asks for it only
#                           for its own `install` command, which the bot never runs
# requirements-tools.lock   that plus the `tools` extra (the team's and editors' tools, with
#                           Datasette), for the image's `tools` target; every pin shared with
#                           requirements.lock is the same
# requirements-build.lock   the build backend (hatchling) that turns the source into a wheel
#
# Needs uv (pip install uv). Both files are resolved for Python 3.11 on any platform, so the
# image builds the same on x86-64 and arm64.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-uv}
command -v "$uv" >/dev/null 2>&1 || { echo "tools/lock.sh needs uv: pip install uv" >&2; exit 2; }

mode=${1:-}
case "$mode" in
    "" | --upgrade | --check) ;;
    *) echo "usage: tools/lock.sh [--upgrade | --check]" >&2; exit 2 ;;
esac

compile() {  # compile INPUT OUTPUT [uv options...]
    local input=$1 output=$2
    shift 2
    "$uv" pip compile "$input" --output-file "$output" --universal --python-version 3.11 \
        --generate-hashes --quiet --custom-compile-command "tools/lock.sh" "$@"
}

build_requires() {
    python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(sys.stdin.buffer)["build-system"]["requires"]))' <pyproject.toml
}

if [ "$mode" = --check ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cp pyproject.toml requirements.lock requirements-tools.lock requirements-build.lock "$work/"
    build_requires >"$work/build.in"
    # Re-resolving keeps every pin that still satisfies pyproject.toml: a difference means
    # pyproject.toml changed and the lock was not updated. (In the copy's folder, so the
    # tools lock names its constraint file as the committed one does.)
    (
        cd "$work"
        compile pyproject.toml requirements.lock --no-emit-package pip
        compile pyproject.toml requirements-tools.lock --extra tools \
            --constraint requirements.lock
        compile build.in requirements-build.lock
    )
    stale=0
    for file in requirements.lock requirements-tools.lock requirements-build.lock; do
        if ! diff -u "$file" "$work/$file" >"$work/$file.diff"; then
            echo "$file is out of date with pyproject.toml: run tools/lock.sh and commit it" >&2
            head -40 "$work/$file.diff" >&2
            stale=1
        fi
    done
    exit $stale
fi

upgrade=()
[ "$mode" = --upgrade ] && upgrade=(--upgrade)
compile pyproject.toml requirements.lock --no-emit-package pip "${upgrade[@]}"
compile pyproject.toml requirements-tools.lock --extra tools --constraint requirements.lock \
    "${upgrade[@]}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_requires >"$work/build.in"
[ -f requirements-build.lock ] && cp requirements-build.lock "$work/"
(cd "$work" && compile build.in requirements-build.lock "${upgrade[@]}")
cp "$work/requirements-build.lock" requirements-build.lock
echo "wrote requirements.lock, requirements-tools.lock and requirements-build.lock"
