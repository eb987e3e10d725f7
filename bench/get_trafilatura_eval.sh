#!/bin/sh
# trafilatura's evaluation set (Apache-2.0) into DIR, outside the repository:
#   bench/get_trafilatura_eval.sh ../data/trafilatura-eval [CLONE]
# CLONE is an existing clone (or bare git dir) of github.com/adbar/trafilatura; without one the
# repository is cloned into a temporary folder. Then:
#   python bench/extraction_eval.py --trafilatura-eval ../data/trafilatura-eval
set -eu
dest=${1:?usage: get_trafilatura_eval.sh DIR [CLONE]}
src=${2:-}
if [ -z "$src" ]; then
    src=$(mktemp -d)/trafilatura
    git clone --depth 1 https://github.com/adbar/trafilatura "$src"
fi
mkdir -p "$dest"
gitdir=$(git -C "$src" rev-parse --absolute-git-dir)
git --git-dir="$gitdir" archive HEAD LICENSE tests/evaldata.json tests/cache tests/eval |
    tar -x -C "$dest"
git --git-dir="$gitdir" rev-parse HEAD >"$dest/SOURCE_COMMIT"
echo "trafilatura eval set in $dest ($(cat "$dest/SOURCE_COMMIT"))"
