#!/usr/bin/env bash
# Benchmark what `sandbox: bwrap` adds to an agent's start (issue 16: under 30 ms).
#
# In one repository, RUNS times each, interleaved: `git agents spawn` of one new task
# whose agent exits at once, without a sandbox (`--sandbox none`) and with one
# (`--sandbox bwrap`). Per agent start is the time from the task's `agent` phase to its
# `commit` phase in the event log: the private view of the branch's ref dir made, the
# agent run to its end (under bwrap: its namespaces and mounts), its branch checked and
# landed. The difference of the medians is what the sandbox costs per agent start. The
# whole spawn is timed too: it also pays, once per spawn, the check that bwrap works.
# For scale, the bare programs: `true` against `bwrap … true` with the same namespaces
# and base mounts. The machine is shared and noisy (its load average is printed): read
# the figures taken in the same run.
#
# Usage: benches/sandbox.sh [RUNS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
command -v bwrap >/dev/null || { echo "bwrap is not installed (apt-get install bubblewrap)" >&2; exit 1; }

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
printf '#!/bin/sh\nexit 0\n' >"$TMP/bin/quick-agent"
chmod +x "$TMP/bin/quick-agent"

REPO=$TMP/repo
git init -q -b main "$REPO"
cd "$REPO"
for d in $(seq -w 1 20); do
    mkdir -p "src/d$d"
    for f in $(seq -w 1 10); do echo "file $d/$f" >"src/d$d/f$f.txt"; done
done
git add -A && git commit -q -m "200 files"
echo "repo: $(git ls-files | wc -l) files, $(nproc) cores, $(bwrap --version)"

ms() { # wall time of "$@" in ms, output discarded
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1
    e=$(date +%s%N)
    echo $(((e - s) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

: >"$TMP/none" >"$TMP/bwrap" >"$TMP/true" >"$TMP/bwrap-true"
for i in $(seq 1 "$RUNS"); do
    ms "$BIN" -q spawn "n$i" -p "quick" --command quick-agent --keep-empty --sandbox none >>"$TMP/none"
    ms "$BIN" -q spawn "b$i" -p "quick" --command quick-agent --keep-empty --sandbox bwrap >>"$TMP/bwrap"
    ms true >>"$TMP/true"
    ms bwrap --die-with-parent --new-session --unshare-pid --unshare-ipc --unshare-uts \
        --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --bind "$REPO" "$REPO" -- true >>"$TMP/bwrap-true"
done
# Every sandboxed task really ran sandboxed.
test "$(grep -l '"sandbox": *"bwrap"' .git/agents/tasks/b*.json | wc -l)" -eq "$RUNS"

# Per agent start, from the event log: ms from the `agent` phase to the `commit` phase.
phase_ms() { # task-id prefix
    cat .git/agents/events/*.ndjson | awk -v pre="\"task\":\"$1" '
        index($0, pre) && /"kind":"phase"/ {
            match($0, /"task":"[^"]*"/); task = substr($0, RSTART + 8, RLENGTH - 9)
            match($0, /T[0-9:.]*Z/); t = substr($0, RSTART + 1, RLENGTH - 2)
            split(t, hms, ":"); ms = (hms[1] * 3600 + hms[2] * 60 + hms[3]) * 1000
            if ($0 ~ /"phase":"agent"/) a[task] = ms
            if ($0 ~ /"phase":"commit"/) c[task] = ms
        }
        END { for (k in c) if (k in a) printf "%d\n", c[k] - a[k] }'
}
phase_ms n >"$TMP/agent-none"
phase_ms b >"$TMP/agent-bwrap"
test "$(wc -l <"$TMP/agent-bwrap")" -eq "$RUNS"

AN=$(median <"$TMP/agent-none")
AB=$(median <"$TMP/agent-bwrap")
N=$(median <"$TMP/none")
B=$(median <"$TMP/bwrap")
T=$(median <"$TMP/true")
BT=$(median <"$TMP/bwrap-true")
ADD=$((AB - AN))
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %6s ms\n' "agent start, no sandbox (median of $RUNS)" "$AN" \
    "agent start, sandbox: bwrap (median)" "$AB" \
    "whole spawn, no sandbox (median)" "$N" \
    "whole spawn, sandbox: bwrap (median)" "$B" \
    "true (median)" "$T" \
    "bwrap … true (median)" "$BT"
printf 'the sandbox adds %d ms per agent start (%.2fx); %d ms per whole spawn (%.2fx); bare bwrap adds %d ms\n' \
    "$ADD" "$(awk -v b="$AB" -v n="$AN" 'BEGIN {print b / n}')" "$((B - N))" \
    "$(awk -v b="$B" -v n="$N" 'BEGIN {print b / n}')" "$((BT - T))"
if [ "$ADD" -lt 30 ]; then echo "under 30 ms per agent start: yes"; else echo "under 30 ms per agent start: NO"; fi
