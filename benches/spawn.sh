#!/usr/bin/env bash
# Benchmark for `git agents spawn` (issue 2). Prints ratios measured in one run:
#  (a) 8 tasks whose agent sleeps 2 s: -j 8 against -j 1            (target <= 0.3)
#  (b) 16 tasks whose agent writes one file, on a repo of 3,000 files, against a plain
#      shell loop of `git worktree add` + write + `git add` + `git commit`  (target <= 1.0)
# Usage: benches/spawn.sh            (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="$PWD/target/release/git-agents"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$WORK/gitconfig" LC_ALL=C
git config --file "$GIT_CONFIG_GLOBAL" user.name Bench
git config --file "$GIT_CONFIG_GLOBAL" user.email bench@example.com
git config --file "$GIT_CONFIG_GLOBAL" init.defaultBranch main

now() { date +%s.%N; }
ratio() { python3 -c "print(f'{$1/$2:.3f}')"; }

make_repo() { # dir nfiles
    git init -q "$1"
    mkdir -p "$1/src"
    for i in $(seq 1 "$2"); do echo "file $i" > "$1/src/f$i.txt"; done
    git -C "$1" add -A && git -C "$1" commit -q -m initial
}

manifest() { # n command...
    local n=$1; shift
    echo "command: [$*]"
    echo "tasks:"
    for i in $(seq 1 "$n"); do echo "  - {id: t$i, prompt: task $i}"; done
}

# (a) parallelism
cat > "$WORK/sleeper" <<'A'
#!/bin/sh
sleep 2
echo x > "out-$GIT_AGENTS_TASK.txt"
A
chmod +x "$WORK/sleeper"
for j in 1 8; do
    make_repo "$WORK/a$j" 10
    manifest 8 "$WORK/sleeper" > "$WORK/a$j/agents.yaml"
    t0=$(now); "$BIN" -C "$WORK/a$j" -q spawn -j "$j" > /dev/null; t1=$(now)
    eval "a_j$j=$(python3 -c "print($t1-$t0)")"
done
echo "(a) 8 tasks x 2 s sleep: -j 8 ${a_j8}s, -j 1 ${a_j1}s, ratio $(ratio "$a_j8" "$a_j1") (target <= 0.3)"

# (b) against a plain git loop, same repo shape
cat > "$WORK/writer" <<'B'
#!/bin/sh
echo "work of $GIT_AGENTS_TASK" > "out-$GIT_AGENTS_TASK.txt"
B
chmod +x "$WORK/writer"
make_repo "$WORK/b1" 3000
git clone -q "$WORK/b1" "$WORK/b2"
manifest 16 "$WORK/writer" > "$WORK/b1/agents.yaml"
t0=$(now); "$BIN" -C "$WORK/b1" -q spawn > /dev/null; t1=$(now)
tool=$(python3 -c "print($t1-$t0)")
t0=$(now)
(
    cd "$WORK/b2"
    for i in $(seq 1 16); do
        git worktree add -q -b "agent/t$i" ".worktrees/t$i" HEAD
        echo "work of t$i" > ".worktrees/t$i/out-t$i.txt"
        git -C ".worktrees/t$i" add -A
        git -C ".worktrees/t$i" commit -q -m "task $i"
    done
)
t1=$(now)
loop=$(python3 -c "print($t1-$t0)")
echo "(b) 16 tasks on 3,000 files: git-agents ${tool}s, plain loop ${loop}s, ratio $(ratio "$tool" "$loop") (target <= 1.0)"
