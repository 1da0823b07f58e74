#!/usr/bin/env bash
# Benchmark for `spawn --detach` and `git agents watch` (issue 11). Prints figures
# measured in one run:
#  (a) 16 tasks whose agent sleeps 2 s: how long `spawn --detach` takes to return, against
#      how long the same foreground spawn takes to finish its first task  (target < 0.1)
#  (b) `watch` following 8 sleeping agents for 10 s: its CPU time (utime + stime from
#      /proc/PID/stat) as a share of one core, off a terminal (NDJSON) and on one (the
#      live view, under `script`)                                          (target < 1 %)
# Usage: benches/detach.sh            (builds the release binary first)
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

make_repo() { # dir
    git init -q "$1"
    mkdir -p "$1/src"
    for i in $(seq 1 100); do echo "file $i" > "$1/src/f$i.txt"; done
    git -C "$1" add -A && git -C "$1" commit -q -m initial
}

manifest() { # n command...
    local n=$1; shift
    echo "command: [$*]"
    echo "tasks:"
    for i in $(seq 1 "$n"); do echo "  - {id: t$i, prompt: task $i}"; done
}

# Seconds from $2 (epoch) until the first record in $1 says succeeded (polled every 10 ms).
first_done() {
    python3 - "$1" "$2" <<'P'
import glob, json, sys, time
t0 = float(sys.argv[2])
while True:
    for p in glob.glob(sys.argv[1] + "/.git/agents/tasks/*.json"):
        try:
            if json.load(open(p))["state"] == "succeeded":
                print(f"{time.time() - t0:.3f}"); sys.exit(0)
        except Exception:
            pass
    time.sleep(0.01)
P
}

# Wait until no record in $1 is pending or running.
all_done() {
    python3 - "$1" <<'P'
import glob, json, sys, time
while True:
    states = []
    for p in glob.glob(sys.argv[1] + "/.git/agents/tasks/*.json"):
        try:
            states.append(json.load(open(p))["state"])
        except Exception:
            states.append("pending")
    if states and not any(s in ("pending", "running") for s in states):
        break
    time.sleep(0.1)
P
}

cat > "$WORK/sleeper" <<'A'
#!/bin/sh
sleep "${SLEEP:-2}"
echo x > "out-$GIT_AGENTS_TASK.txt"
A
chmod +x "$WORK/sleeper"

# (a) the foreground's first task against the detached return
make_repo "$WORK/fg"
manifest 16 "$WORK/sleeper" > "$WORK/fg/agents.yaml"
t0=$(now)
"$BIN" -C "$WORK/fg" -q spawn > /dev/null &
fg_pid=$!
first=$(first_done "$WORK/fg" "$t0")
wait "$fg_pid" || true
make_repo "$WORK/bg"
manifest 16 "$WORK/sleeper" > "$WORK/bg/agents.yaml"
t0=$(now); "$BIN" -C "$WORK/bg" spawn --detach > /dev/null 2>&1; t1=$(now)
detach=$(python3 -c "print(f'{$t1-$t0:.3f}')")
all_done "$WORK/bg"
echo "(a) 16 tasks: spawn --detach returned in ${detach}s, the foreground's first task took ${first}s, ratio $(ratio "$detach" "$first") (target < 0.1)"

# (b) watch's idle cost while 8 agents sleep
ticks() { # utime + stime of a pid, in clock ticks
    python3 -c "
s = open('/proc/$1/stat').read()
f = s[s.rfind(')') + 2:].split()
print(int(f[11]) + int(f[12]))"
}
cpu_share() { # pid -> percent of one core over 10 s
    local a b
    a=$(ticks "$1"); sleep 10; b=$(ticks "$1")
    python3 -c "import os; print(f'{($b-$a)/os.sysconf(\"SC_CLK_TCK\")/10*100:.2f}')"
}
make_repo "$WORK/w"
manifest 8 "$WORK/sleeper" > "$WORK/w/agents.yaml"
SLEEP=30 "$BIN" -C "$WORK/w" spawn -d -j 8 > /dev/null 2>&1
"$BIN" -C "$WORK/w" watch --json > /dev/null 2>&1 &
plain=$!
TERM=xterm script -qfc "exec '$BIN' -C '$WORK/w' watch" /dev/null > /dev/null 2>&1 &
term=$!
sleep 1
live=$(cat "/proc/$term/task/$term/children" | awk '{print $1}')
share_file="$WORK/share"
( cpu_share "$live" > "$share_file" ) &
measuring=$!
plain_cpu=$(cpu_share "$plain")
wait "$measuring"
live_cpu=$(cat "$share_file")
kill "$plain" "$live" 2>/dev/null || true
echo "(b) watch for 10 s while 8 agents sleep: ${plain_cpu}% of one core off a terminal, ${live_cpu}% with the live view (target < 1 %)"
all_done "$WORK/w"
