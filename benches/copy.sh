#!/usr/bin/env bash
# Benchmark for `copy` (issue 7): a 200 MB tree of 20,000 files copied into 4 new
# worktrees by `git agents spawn`, against `cp -a` of the same tree 4 times.
# The copy's cost is the spawn time with `copy` minus the same spawn without it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="$PWD/target/release/git-agents"
WORK="$(mktemp -d "${BENCH_DIR:-/tmp}/copybench.XXXX")"
trap 'rm -rf "$WORK"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$WORK/gitconfig" LC_ALL=C
git config --file "$GIT_CONFIG_GLOBAL" user.name Bench
git config --file "$GIT_CONFIG_GLOBAL" user.email bench@example.com
now() { date +%s.%N; }
calc() { python3 -c "print(f'{$1:.3f}')"; }

if cp --reflink=always /dev/null "$WORK/probe" 2>/dev/null && touch "$WORK/a" && cp --reflink=always "$WORK/a" "$WORK/b" 2>/dev/null; then
    echo "filesystem of $WORK: reflink supported"
else
    echo "filesystem of $WORK: no reflink (plain copies)"
fi

for r in with without; do
    git init -q -b main "$WORK/$r"
    echo "deps/" > "$WORK/$r/.gitignore"
    git -C "$WORK/$r" add .gitignore && git -C "$WORK/$r" commit -q -m init
done
# 20,000 files of 10 KiB = 200 MB, in 200 directories.
python3 - "$WORK/with/deps" <<'P'
import os, sys
root = sys.argv[1]
blob = os.urandom(10240)
for d in range(200):
    p = os.path.join(root, f"pkg{d}")
    os.makedirs(p)
    for f in range(100):
        with open(os.path.join(p, f"f{f}.js"), "wb") as fh:
            fh.write(blob)
P
manifest() { echo "command: [\"true\"]"; [ "$1" = with ] && echo "copy: [deps]"; echo tasks:; for i in 1 2 3 4; do echo "  - {id: t$i, prompt: x}"; done; }
manifest with > "$WORK/with/agents.yaml"
manifest without > "$WORK/without/agents.yaml"
sync
t0=$(now); "$BIN" -C "$WORK/without" -q spawn -j 4 --keep-empty > /dev/null; t1=$(now)
base=$(calc "$t1-$t0")
t0=$(now); "$BIN" -C "$WORK/with" -q spawn -j 4 --keep-empty > /dev/null; t1=$(now)
with=$(calc "$t1-$t0")
test "$(find "$WORK/with/.worktrees/t4/deps" -type f | wc -l)" = 20000
t0=$(now); for i in 1 2 3 4; do cp -a "$WORK/with/deps" "$WORK/cp$i"; done; t1=$(now)
cpa=$(calc "$t1-$t0")
ours=$(calc "$with-$base")
echo "copy into 4 worktrees: git-agents ${ours}s (spawn ${with}s - ${base}s without copy), cp -a x4 ${cpa}s, ratio $(calc "$ours/$cpa")"
