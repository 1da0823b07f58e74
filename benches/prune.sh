#!/usr/bin/env bash
# Benchmark: `git agents prune` of 20 merged worktrees in a ~3,000-file repository,
# against the plain-git loop a user would write (`git worktree remove` + `git branch -D`
# per worktree). Both are measured in the same run, alternating, ROUNDS times each; the
# figure is the ratio of medians of the time until the command returns (prune finishes
# deleting files in the background; that time is reported too).
#
# Usage: benches/prune.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
TASKS=20

cargo build --release --quiet
BIN=$PWD/target/release/git-agents

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 LC_ALL=C TZ=UTC
mkdir -p "$HOME" "$TMP/bin"
git config --global user.name Bench
git config --global user.email bench@example.com
git config --global init.defaultBranch main
export PATH=$TMP/bin:$PATH
cp "$BIN" "$TMP/bin/git-agents"
cat > "$TMP/bin/bench-agent" <<'EOF'
#!/bin/sh
echo "$GIT_AGENTS_TASK $(date +%s%N)" > "done-$GIT_AGENTS_TASK.txt"
EOF
chmod +x "$TMP/bin/bench-agent"

# A repository of 3,000 files in 100 directories.
REPO=$TMP/repo
git init -q "$REPO"
cd "$REPO"
for d in $(seq -w 1 100); do
    mkdir -p "src/d$d"
    for f in $(seq -w 1 30); do
        printf 'line %s of file %s in dir %s\n' 1 "$f" "$d" > "src/d$d/f$f.txt"
    done
done
git add -A && git commit -q -m "3000 files"
{
    echo 'command: [bench-agent]'
    echo 'tasks:'
    for i in $(seq -w 1 $TASKS); do echo "  - {id: t$i, prompt: task $i}"; done
} > agents.yaml
git add agents.yaml && git commit -q -m manifest
echo "repo: $(git ls-files | wc -l) files, $TASKS worktrees per round"

now_ms() { date +%s%3N; }

# Both sides start from the same state: 20 worktrees, each with one commit, all merged.
setup_agents() {
    rm -rf .git/agents/tasks
    git agents spawn -q -j 4 --trust > /dev/null
    git merge -q --no-edit >/dev/null $(for i in $(seq -w 1 $TASKS); do echo "agent/t$i"; done)
}
setup_plain() {
    for i in $(seq -w 1 $TASKS); do
        git worktree add -q -b "agent/t$i" ".worktrees/t$i"
        echo "t$i $(date +%s%N)" > ".worktrees/t$i/done-t$i.txt"
        git -C ".worktrees/t$i" add -A
        git -C ".worktrees/t$i" commit -q -m "task $i"
    done
    git merge -q --no-edit >/dev/null $(for i in $(seq -w 1 $TASKS); do echo "agent/t$i"; done)
}
wait_trash() {
    while [ -n "$(find .git/agents/trash -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ]; do
        sleep 0.01
    done
}

ours=() plain=() background=()
for r in $(seq 1 "$ROUNDS"); do
    setup_agents
    sync
    t0=$(now_ms)
    git agents prune -q > /dev/null
    t1=$(now_ms)
    wait_trash
    t2=$(now_ms)
    [ -z "$(git branch --list 'agent/*')" ] || { echo "prune left branches" >&2; exit 1; }
    ours+=($((t1 - t0)))
    background+=($((t2 - t0)))

    setup_plain
    sync
    t0=$(now_ms)
    for i in $(seq -w 1 $TASKS); do
        git worktree remove ".worktrees/t$i"
        git branch -q -D "agent/t$i"
    done
    t1=$(now_ms)
    plain+=($((t1 - t0)))
    echo "round $r: prune returned in ${ours[-1]} ms (files gone after ${background[-1]} ms); plain loop ${plain[-1]} ms"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_ours=$(median "${ours[@]}")
m_plain=$(median "${plain[@]}")
m_bg=$(median "${background[@]}")
echo "median: git agents prune ${m_ours} ms (background deletion done at ${m_bg} ms); git worktree remove + git branch -D loop ${m_plain} ms"
awk -v a="$m_ours" -v b="$m_plain" 'BEGIN {printf "ratio prune/loop: %.3f (target <= 0.2)\n", a / b}'
