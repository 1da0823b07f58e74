#!/usr/bin/env bash
# Benchmark `git agents list --json` against the plain-git way of getting the same facts:
# `git worktree list --porcelain`, then `git status --porcelain` and
# `git rev-list --left-right --count` per worktree.
#
# A repository of ~3,000 files (100 directories of 30), with 20 and then 50 agent
# worktrees made by `git agents spawn` and a trivial fake agent (one new file each; a
# few are left dirty). Both sides run warm, interleaved, RUNS times each; the medians
# are compared. The machine is shared and noisy: read the ratio, not only the times.
#
# Usage: benches/list.sh [RUNS]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-15}

cargo build --release --quiet
BIN=$PWD/target/release/git-agents

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$TMP/home/.gitconfig
export LC_ALL=C TZ=UTC GIT_AGENTS_NO_PROGRESS=1
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR
mkdir -p "$HOME" "$TMP/bin"
printf '[user]\n\tname = Bench\n\temail = bench@example.com\n' >"$GIT_CONFIG_GLOBAL"
export PATH=$TMP/bin:$PATH
cat >"$TMP/bin/touch-agent" <<'AGENT'
#!/bin/sh
echo "$1" > "agent-$GIT_AGENTS_TASK.txt"
AGENT
chmod +x "$TMP/bin/touch-agent"

REPO=$TMP/repo
git init -q -b main "$REPO"
cd "$REPO"
for d in $(seq -w 1 100); do
    mkdir -p "src/d$d"
    for f in $(seq -w 1 30); do
        printf 'file %s/%s\nline two\n' "$d" "$f" >"src/d$d/f$f.txt"
    done
done
git add -A && git commit -q -m "3000 files"
echo "repo: $(git ls-files | wc -l) files"

spawn_upto() { # spawn tasks t1..tN that do not exist yet
    local from=$1 to=$2 ids=()
    for i in $(seq "$from" "$to"); do ids+=("t$i"); done
    {
        echo 'command: [touch-agent, "{prompt}"]'
        echo 'tasks:'
        for i in $(seq 1 "$to"); do echo "  - {id: t$i, prompt: task $i}"; done
    } >agents.yaml
    "$BIN" -q spawn -j 4 "${ids[@]}" >/dev/null
    # A few worktrees with uncommitted work, as in real life.
    for i in $(seq "$from" 5 "$to"); do echo dirty >>"$REPO/.worktrees/t$i/src/d001/f01.txt"; done
}

git_loop() {
    git worktree list --porcelain | sed -n 's/^worktree //p' | tail -n +2 |
        while read -r wt; do
            git -C "$wt" status --porcelain >/dev/null
            git -C "$wt" rev-list --left-right --count main...HEAD >/dev/null
        done
}
ours() { "$BIN" list --json >/dev/null; }

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() { # prints "git_ms ours_ms"
    local g=() o=() t
    for _ in 1 2; do git_loop; ours; done # warm caches; git status refreshes indexes
    for _ in $(seq "$RUNS"); do
        t=$(now_ns); git_loop; g+=($(( $(now_ns) - t )))
        t=$(now_ns); ours; o+=($(( $(now_ns) - t )))
    done
    local gm om
    gm=$(printf '%s\n' "${g[@]}" | median)
    om=$(printf '%s\n' "${o[@]}" | median)
    echo "$gm $om"
}

report() { # N git_ns ours_ns
    awk -v n="$1" -v g="$2" -v o="$3" 'BEGIN {
        printf "%2d worktrees: plain git loop %7.1f ms   git agents list --json %6.1f ms   ratio %.2f\n",
            n, g / 1e6, o / 1e6, o / g }'
}

spawn_upto 1 20
sleep 1 # let the worktrees' files age past the racy-git window, as real agents' do
count=$("$BIN" list --json | grep -c '"id"')
[ "$count" -eq 20 ] || { echo "expected 20 tasks, list shows $count" >&2; exit 1; }
read -r g o < <(measure)
report 20 "$g" "$o"

spawn_upto 21 50
sleep 1
count=$("$BIN" list --json | grep -c '"id"')
[ "$count" -eq 50 ] || { echo "expected 50 tasks, list shows $count" >&2; exit 1; }
read -r g o < <(measure)
report 50 "$g" "$o"
