#!/usr/bin/env bash
# Benchmark the task graph's scheduling: 200 tasks in a random DAG of depth 6 (six
# levels; each task beyond the first level depends on one to three tasks of the level
# before), an agent that sleeps 0.1 s and writes one file, `spawn -j 8`.
#
# Reported, all from the same run:
#   graph      wall time of the graph batch;
#   flat       the same 200 tasks with no depends_on (the plain parallel batch: what the
#              graph costs beyond it is the graph's own overhead);
#   critical   the critical path's agent time (6 levels x 0.1 s);
#   overhead   graph - critical (the issue's measure, which also counts the time the
#              agents need at -j 8 however they are scheduled: 200 x 0.1 s / 8 = 2.5 s,
#              and every worktree made and removed);
#   graph-only graph - flat: what waiting for dependencies and merging their branches
#              in memory add.
#   chain      the chain of tasks that ended last, walked back through the dependency
#              that ended last: its tasks' own time (worktree, agent, commit) and the
#              gaps between a dependency's end and its dependant's start (the scheduler's
#              dispatch, the starting point's in-memory merge, and waiting for a free
#              slot behind other ready tasks).
#
# Each figure is the median of ROUNDS rounds (default 3) that run plain git, flat and
# graph one after the other, so a change in the machine's load touches all three.
#
# Usage: [ROUNDS=3] benches/graph.sh [JOBS]   (default 8)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-8}
N=200
LEVELS=6
ROUNDS=${ROUNDS:-3}

cargo build --release --quiet
BIN=$PWD/target/release/git-agents

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$TMP/home/.gitconfig
export LC_ALL=C TZ=UTC GIT_AGENTS_NO_PROGRESS=1
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OPTIONAL_LOCKS
mkdir -p "$HOME" "$TMP/bin"
printf '[user]\n\tname = Bench\n\temail = bench@example.com\n' >"$GIT_CONFIG_GLOBAL"
export PATH=$TMP/bin:$PATH
cat >"$TMP/bin/sleep-agent" <<'AGENT'
#!/bin/sh
sleep 0.1
echo "$GIT_AGENTS_TASK" > "out-$GIT_AGENTS_TASK.txt"
AGENT
chmod +x "$TMP/bin/sleep-agent"

manifest() { # $1 = graph|flat
    RANDOM=42
    echo 'command: [sleep-agent]'
    echo 'tasks:'
    local per=$(((N + LEVELS - 1) / LEVELS)) i level prev from deps k d
    for ((i = 0; i < N; i++)); do
        level=$((i / per))
        if [[ $1 == graph && $level -gt 0 ]]; then
            from=$(((level - 1) * per))
            deps=""
            for ((k = 0; k <= RANDOM % 3; k++)); do
                d="t$((from + RANDOM % per))"
                [[ ",$deps," == *",$d,"* ]] || deps="${deps:+$deps, }$d"
            done
            echo "  - {id: t$i, prompt: task $i, depends_on: [$deps]}"
        else
            echo "  - {id: t$i, prompt: task $i}"
        fi
    done
}

run() { # $1 = graph|flat; prints wall seconds
    local repo=$TMP/$1
    rm -rf "$repo"
    git init -q -b main "$repo"
    (
        cd "$repo"
        echo hello >README && git add README && git commit -q -m init
        manifest "$1" >agents.yaml
        local t0 t1
        t0=$(date +%s.%N)
        "$BIN" -q spawn -j "$JOBS" >/dev/null || { echo "spawn failed" >&2; exit 1; }
        t1=$(date +%s.%N)
        local ok
        ok=$(grep -l '"state": *"succeeded"' .git/agents/tasks/*.json | wc -l)
        [[ $ok -eq $N ]] || { echo "$1: only $ok of $N succeeded" >&2; exit 1; }
        echo "$t1 - $t0" | bc
        [[ $1 == graph ]] && chain .git/agents/tasks >"$TMP/chain"
        true
    )
}

chain() { # the critical chain of a finished graph batch, from its records
    python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
recs = {}
for f in os.listdir(d):
    r = json.load(open(os.path.join(d, f)))
    recs[r["id"]] = r
last = max(recs.values(), key=lambda r: r["finished_at"])
own = gaps = 0
n = 0
gap_list = []
r = last
while True:
    n += 1
    own += r["finished_at"] - r["started_at"]
    deps = [recs[x] for x in r.get("depends_on", [])]
    if not deps:
        break
    dep = max(deps, key=lambda x: x["finished_at"])
    g = r["started_at"] - dep["finished_at"]
    gaps += g
    gap_list.append(g)
    r = dep
all_gaps = sorted(
    t["started_at"] - max(recs[x]["finished_at"] for x in t["depends_on"])
    for t in recs.values() if t.get("depends_on")
)
med = all_gaps[len(all_gaps) // 2]
print(f"chain       {n} tasks: their own time {own/1000:.2f} s, gaps {gaps/1000:.2f} s "
      f"({', '.join(f'{g}ms' for g in reversed(gap_list))})")
print(f"gaps        every dependant: median {med} ms, max {all_gaps[-1]} ms "
      "(dependency ended -> dependant started)")
PY
}

plain() { # the plain-git floor: what any tool pays for N worktrees and N commits, and
    # the agents' sleep, $JOBS at a time (xargs -P), with no scheduling at all
    local repo=$TMP/plain
    rm -rf "$repo" "$TMP/plain-wt"
    git init -q -b main "$repo"
    (
        cd "$repo"
        echo hello >README && git add README && git commit -q -m init
        local t0 t1
        t0=$(date +%s.%N)
        seq 0 $((N - 1)) | xargs -P "$JOBS" -I{} sh -c '
            git worktree add -q -b agent/t{} ../plain-wt/t{} main 2>/dev/null &&
            cd ../plain-wt/t{} && sleep 0.1 && echo t{} > out-t{}.txt &&
            git add out-t{}.txt && git commit -q -m t{}'
        t1=$(date +%s.%N)
        echo "$t1 - $t0" | bc
    )
}

echo "$N tasks, depth $LEVELS, agent sleeps 0.1 s, -j $JOBS, $(nproc) cores, median of $ROUNDS rounds"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
floors=() flats=() graphs=()
for ((r = 1; r <= ROUNDS; r++)); do
    floors+=("$(plain)")
    flats+=("$(run flat)")
    graphs+=("$(run graph)")
    echo "  round $r: plain git ${floors[-1]} s, flat ${flats[-1]} s, graph ${graphs[-1]} s" >&2
done
floor=$(median "${floors[@]}")
flat=$(median "${flats[@]}")
graph=$(median "${graphs[@]}")
critical=$(echo "$LEVELS * 0.1" | bc)
printf 'flat        %6.2f s\n' "$flat"
printf 'graph       %6.2f s   (%.2fx flat)\n' "$graph" "$(echo "$graph / $flat" | bc -l)"
printf 'critical    %6.2f s\n' "$critical"
printf 'overhead    %6.2f s   (graph - critical path agent time)\n' "$(echo "$graph - $critical" | bc)"
printf 'graph-only  %6.2f s   (graph - flat)\n' "$(echo "$graph - $flat" | bc)"
printf 'plain git   %6.2f s   (worktree add + sleep 0.1 + commit per task, %s at a time)\n' "$floor" "$JOBS"
printf 'agents      %6.2f s   (%s x 0.1 s / %s: the agents alone at -j %s, however scheduled)\n' \
    "$(echo "$N * 0.1 / $JOBS" | bc -l)" "$N" "$JOBS" "$JOBS"
printf 'flat / plain git %.2f\n' "$(echo "$flat / $floor" | bc -l)"
printf 'graph / plain git %.2f; beyond the plain-git floor %.2f s\n' \
    "$(echo "$graph / $floor" | bc -l)" "$(echo "$graph - $floor" | bc)"
cat "$TMP/chain"
