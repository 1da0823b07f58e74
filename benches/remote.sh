#!/usr/bin/env bash
# Benchmark the remote-run protocol's overhead per task (issue 17): what `runner: remote`
# adds to a task besides the job itself. The remote is a local bare repository; the
# dispatcher a `command` that clones it and runs `git agents run-task` (a stand-in for a
# pod). 20 tasks with a trivial agent (one new file), JOBS at once (default 1: the
# protocol alone; with more, the jobs' own clones and runs share the cores with it).
#
# Per task, as each record's `remote` measures it in the driving process:
#   push      pushing the base commit and the task's spec (refs/agents/{base,task}/ID)
#   dispatch  starting the dispatcher
#   fetch     fetching and reading the status, fetching the branch, ending the record
#   overhead  push + dispatch + fetch: the figure the issue bounds (median < 150 ms)
# and, in the same run, the plain-git floor of the same work: `git push` of two refs,
# `sh -c true`, `git fetch` of two refs, one after the other (median of 20).
# Also the wall time of the whole batch run locally and remotely (information: the
# remote one includes 20 clones, and status polling every GIT_AGENTS_REMOTE_POLL_MS).
#
# Usage: benches/remote.sh [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-1}
N=20

cargo build --release --quiet
BIN=$PWD/target/release/git-agents

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$TMP/home/.gitconfig
export LC_ALL=C TZ=UTC GIT_AGENTS_NO_PROGRESS=1 GIT_AGENTS_REMOTE_POLL_MS=${GIT_AGENTS_REMOTE_POLL_MS:-50}
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OPTIONAL_LOCKS
mkdir -p "$HOME" "$TMP/bin"
printf '[user]\n\tname = Bench\n\temail = bench@example.com\n' >"$GIT_CONFIG_GLOBAL"
export PATH=$TMP/bin:$PATH
cat >"$TMP/bin/touch-agent" <<'AGENT'
#!/bin/sh
echo "$GIT_AGENTS_TASK" > "agent-$GIT_AGENTS_TASK.txt"
AGENT
cat >"$TMP/bin/job" <<JOB
#!/bin/sh
set -e
d=\$(mktemp -d "$TMP/job.XXXXXX")
git clone -q "\$1" "\$d/c"
cd "\$d/c"
exec "$BIN" run-task "\$2" >/dev/null
JOB
chmod +x "$TMP/bin/touch-agent" "$TMP/bin/job"

make_repo() {
    git init -q -b main "$1"
    (
        cd "$1"
        for d in $(seq 1 20); do mkdir -p "src/d$d"; for f in $(seq 1 20); do echo "$d $f" >"src/d$d/f$f.txt"; done; done
        { echo "tasks:"; for i in $(seq -w 1 $N); do printf '  - id: t%s\n    prompt: work %s\n    command: [touch-agent]\n' "$i" "$i"; done; } >agents.yaml
        git add -A && git commit -qm init
    )
}

make_repo "$TMP/local"
make_repo "$TMP/remote"
git clone -q --bare "$TMP/remote" "$TMP/remote.git"
git -C "$TMP/remote" remote add origin "$TMP/remote.git"
git -C "$TMP/remote" config agents.runner remote
git -C "$TMP/remote" config agents.remoteDispatch "job {url} {task}"

now() { date +%s%N; }
t0=$(now); (cd "$TMP/local" && "$BIN" spawn --trust -j "$JOBS" >/dev/null); t1=$(now)
(cd "$TMP/remote" && "$BIN" spawn --trust -j "$JOBS" >/dev/null); t2=$(now)
local_ms=$(( (t1 - t0) / 1000000 )); remote_ms=$(( (t2 - t1) / 1000000 ))

# The plain-git floor, in the same run.
git clone -q "$TMP/remote" "$TMP/plain"
git -C "$TMP/plain" remote set-url origin "$TMP/remote.git"
floor=()
for i in $(seq 1 $N); do
    s=$(now)
    blob=$(echo "spec $i" | git -C "$TMP/plain" hash-object -w --stdin)
    git -C "$TMP/plain" push -q --force origin "HEAD:refs/bench/base/$i" "$blob:refs/bench/task/$i"
    sh -c true
    git -C "$TMP/plain" fetch -q --no-write-fetch-head origin "+refs/bench/task/$i:refs/bench/task/$i" "+refs/heads/agent/t01:refs/heads/bench-$i"
    floor+=($(( ($(now) - s) / 1000000 )))
done

python3 - "$TMP/remote/.git/agents/tasks" "$local_ms" "$remote_ms" "${floor[@]}" <<'PY'
import json, os, statistics, sys
d, local_ms, remote_ms, *floor = sys.argv[1:]
recs = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d))]
bad = [r["id"] for r in recs if r["state"] != "succeeded"]
assert not bad, f"tasks not succeeded: {bad}"
col = lambda k: [r["remote"][k] for r in recs]
push, disp, fetch = col("push_ms"), col("dispatch_ms"), col("fetch_ms")
over = [p + d + f for p, d, f in zip(push, disp, fetch)]
floor = [int(x) for x in floor]
med = statistics.median
print(f"{len(recs)} remote tasks (median / max, ms):")
for name, xs in [("push", push), ("dispatch", disp), ("fetch", fetch), ("overhead", over)]:
    print(f"  {name:9} {med(xs):7.1f} / {max(xs)}")
print(f"  plain git floor (push + sh + fetch): {med(floor):.1f}")
print(f"  overhead / floor: {med(over) / med(floor):.2f}x")
print(f"whole batch: local {local_ms} ms, remote {remote_ms} ms ({int(remote_ms) / int(local_ms):.2f}x)")
print("PASS: median overhead under 150 ms" if med(over) < 150 else "FAIL: median overhead 150 ms or more")
PY
