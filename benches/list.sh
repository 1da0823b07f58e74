#!/usr/bin/env bash
# Benchmark `git agents list --json` against the least any exact answer has to do, and
# against the plain-git way of getting the same facts.
#
# A repository of ~3,000 files (100 directories of 30), with 20, 50 and then 120 agent
# worktrees made by `git agents spawn` and a trivial fake agent (one new file each,
# exiting at once; a few worktrees are then left dirty). Each size reports:
#
# - fresh: the first `list` after spawn (one run), then the second one (one run). A
#   worktree checked out in the same second as its index was written is racily clean:
#   its files' content must be read once; `list` (and spawn's own summary) write what
#   they learnt back to the index, as `git status` does, so no later list reads it again.
# - warm: medians and best of RUNS interleaved runs of
#     floor    the least any exact answer pays: read every directory and lstat every
#              file of every agent worktree once (`find -printf '%s %T@'`), split in two
#              processes like list's two threads on this kind of machine; the same on
#              one core for scale;
#     list     `git agents list --json`;
#     git      `git worktree list --porcelain`, then `git status --porcelain` and
#              `git rev-list --left-right --count` per worktree;
#     wt       worktrunk's `wt list --format=json`, when a `wt` is on PATH (information).
#   Each with wall and CPU (user+sys) time. The machine is shared and noisy: read the
#   ratios, taken within the same run.
# - paint: on a terminal (a pty from `script`), when the table's first paint (ids,
#   states, branches) came out, counted from the start of the process.
#
# Usage: benches/list.sh [RUNS]   (default 9; SIZES="20 50 120" to choose the sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-9}
SIZES=${SIZES:-20 50 120}
export RUNS

cargo build --release --quiet
BIN=$PWD/target/release/git-agents
WT=$(command -v wt || true)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$TMP/home/.gitconfig
export LC_ALL=C TZ=UTC GIT_AGENTS_NO_PROGRESS=1
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OPTIONAL_LOCKS
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
echo "repo: $(git ls-files | wc -l) files, $(nproc) cores"

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
worktrunk() { "$WT" list --format=json >/dev/null 2>&1; }
# The floor: every directory read and every file lstat'ed once (find does both relative
# to the open directory), the worktrees split between two processes.
floor() {
    local dirs=("$REPO"/.worktrees/*) half
    half=$(((${#dirs[@]} + 1) / 2))
    find "${dirs[@]:0:half}" -mindepth 1 -printf '%s %T@\n' >/dev/null &
    find "${dirs[@]:half}" -mindepth 1 -printf '%s %T@\n' >/dev/null
    wait
}
floor1() { find "$REPO/.worktrees" -mindepth 1 -printf '%s %T@\n' >/dev/null; }
# Each worktree's index as a file: which changes when it is written again.
indexes() { stat -c '%n %i %Y' "$REPO"/.git/worktrees/*/index; }

# "wall cpu" in ms for one run of a function (cpu: user+sys of it and its children).
clock() {
    local t
    t=$({ TIMEFORMAT='%3R %3U %3S'; time "$@" >/dev/null 2>&1; } 2>&1)
    awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' <<<"$t"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
least() { sort -n | head -1; }

# When the first paint reached the terminal, in ms from the start (script's timing log).
first_paint() {
    script -q -T "$TMP/timing" -c "$BIN list" /dev/null </dev/null >/dev/null
    awk 'NR == 1 { printf "%d", $1 * 1000 }' "$TMP/timing"
}

measure() { # N
    local n=$1 names=(floor floor1 ours git_loop) name w c
    [ -n "$WT" ] && names+=(worktrunk)
    declare -A wall cpu
    for name in "${names[@]}"; do "$name"; done # warm caches
    for _ in $(seq "$RUNS"); do
        for name in "${names[@]}"; do
            read -r w c < <(clock "$name")
            wall[$name]+="$w "
            cpu[$name]+="$c "
        done
    done
    pick() { tr ' ' '\n' <<<"$1" | grep . | "$2"; }
    local fw fc
    fw=$(pick "${wall[floor]}" median)
    fc=$(pick "${cpu[floor]}" median)
    printf '%3d worktrees, warm, median (best) of %d:\n' "$n" "$RUNS"
    for name in "${names[@]}"; do
        w=$(pick "${wall[$name]}" median)
        c=$(pick "${cpu[$name]}" median)
        awk -v name="$name" -v w="$w" -v c="$c" -v b="$(pick "${wall[$name]}" least)" \
            -v fw="$fw" -v fc="$fc" 'BEGIN {
            printf "    %-9s wall %6d ms (%6d)  cpu %6d ms   wall/floor %5.2f  cpu/floor %5.2f\n",
                name, w, b, c, w / fw, c / fc }'
    done
    if [ -n "$WT" ]; then
        awk -v o="$(pick "${wall[ours]}" median)" -v t="$(pick "${wall[worktrunk]}" median)" \
            'BEGIN { printf "    list / wt list: %.2f\n", o / t }'
    fi
}

from=1
for n in $SIZES; do
    spawn_upto "$from" "$n"
    from=$((n + 1))
    sleep 1 # the agents' files a second old, as real agents' are
    floor # the same warm caches for the floor and the first list
    read -r fw fc < <(clock floor)
    before=$(indexes)
    read -r w1 c1 < <(clock ours)
    written=$(diff <(echo "$before") <(indexes) | grep -c '^>' || true)
    read -r w2 c2 < <(clock ours)
    count=$("$BIN" list --json | grep -c '"id"')
    [ "$count" -eq "$n" ] || { echo "expected $n tasks, list shows $count" >&2; exit 1; }
    printf '%3d worktrees, fresh after spawn: floor %d ms (cpu %d) | first list %d ms (cpu %d), %d indexes written back | second list %d ms (cpu %d) | ratios to the floor %.2f and %.2f\n' \
        "$n" "$fw" "$fc" "$w1" "$c1" "$written" "$w2" "$c2" \
        "$(awk -v a="$w1" -v b="$fw" 'BEGIN { print a / b }')" \
        "$(awk -v a="$w2" -v b="$fw" 'BEGIN { print a / b }')"
    measure "$n"
    printf '    first paint on a terminal: %s ms\n' "$(first_paint)"
done
