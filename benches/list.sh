#!/usr/bin/env bash
# Benchmark `git agents list --json` against the plain-git way of getting the same facts:
# `git worktree list --porcelain`, then `git status --porcelain` and
# `git rev-list --left-right --count` per worktree.
#
# A repository of ~3,000 files (100 directories of 30), with 20 and then 50 agent
# worktrees made by `git agents spawn` and a trivial fake agent (one new file each; a
# few are left dirty). Both sides run warm, interleaved, RUNS times each; medians and
# best runs are compared. The machine is shared and noisy: read the ratios. For scale,
# a `find` that reads every directory and lstats every file once (the least any exact
# answer has to do) is timed alongside.
#
# The warm-up runs `git status` in every worktree, which refreshes each index as git
# does. `list` never writes: a worktree whose index was never refreshed since checkout
# (an agent still running in a fresh worktree) has racily-clean entries, whose content
# `list` then compares (about 2.5x the cost of that worktree here).
#
# Usage: benches/list.sh [RUNS]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-15}
export RUNS

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
# The floor any exact answer pays: read every directory and lstat every file of every
# agent worktree once (find does both relative to the open directory), on one core.
floor() { find "$REPO/.worktrees" -mindepth 1 -printf '%s\n' >/dev/null; }

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
least() { sort -n | head -1; }

measure() { # prints "git_median ours_median floor_median git_min ours_min floor_min" (ns)
    local g=() o=() f=() t
    for _ in 1 2; do git_loop; ours; floor; done # warm caches; git status refreshes indexes
    for _ in $(seq "$RUNS"); do
        t=$(now_ns); git_loop; g+=($(( $(now_ns) - t )))
        t=$(now_ns); ours; o+=($(( $(now_ns) - t )))
        t=$(now_ns); floor; f+=($(( $(now_ns) - t )))
    done
    echo "$(printf '%s\n' "${g[@]}" | median) $(printf '%s\n' "${o[@]}" | median)" \
        "$(printf '%s\n' "${f[@]}" | median) $(printf '%s\n' "${g[@]}" | least)" \
        "$(printf '%s\n' "${o[@]}" | least) $(printf '%s\n' "${f[@]}" | least)"
}

report() { # N and the six figures of measure
    awk -v n="$1" -v g="$2" -v o="$3" -v f="$4" -v gm="$5" -v om="$6" -v fm="$7" 'BEGIN {
        printf "%2d worktrees, median of %d: plain git loop %6.1f ms | git agents list --json %6.1f ms | ratio %.2f | floor (find, 1 core) %6.1f ms\n",
            n, ENVIRON["RUNS"], g / 1e6, o / 1e6, o / g, f / 1e6
        printf "%2d worktrees, best of %d:   plain git loop %6.1f ms | git agents list --json %6.1f ms | ratio %.2f | floor (find, 1 core) %6.1f ms\n",
            n, ENVIRON["RUNS"], gm / 1e6, om / 1e6, om / gm, fm / 1e6 }'
}

spawn_upto 1 20
sleep 1 # let the worktrees' files age past the racy-git window, as real agents' do
count=$("$BIN" list --json | grep -c '"id"')
[ "$count" -eq 20 ] || { echo "expected 20 tasks, list shows $count" >&2; exit 1; }
report 20 $(measure)

spawn_upto 21 50
sleep 1
count=$("$BIN" list --json | grep -c '"id"')
[ "$count" -eq 50 ] || { echo "expected 50 tasks, list shows $count" >&2; exit 1; }
report 50 $(measure)
