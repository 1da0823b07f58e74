#!/usr/bin/env bash
# Benchmark reading agents' structured output, against not reading it, in the same run.
#
# 1. parse: a 50 MB claude stream-json stream (the recorded sample's events repeated)
#    in a task's log. `git agents logs ID` parses and renders every line of it;
#    `git agents logs ID --raw` reads and prints the same bytes unparsed; `cat` is the
#    floor. parse cost = logs - logs --raw (the goal: under 0.5 s).
# 2. spawn: the same 50 MB printed by a fake `claude` (the preset: parsed as it
#    streams) and by the same script run as a plain-text `--command` (every line an
#    output event instead). Wall time of the whole spawn.
# 3. cpu: a fake agent streams 2,000 events per second for DUR seconds (default 10);
#    the supervising git-agents process's CPU time (all its threads, from
#    /proc/PID/stat) over that time, as a share of one core, parsed (preset) and plain
#    (--command). Goal: under 10 %.
#
# Usage: benches/adapters.sh [RUNS]   (default 5; DUR=10)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DUR=${DUR:-10}

cargo build --release --quiet
BIN=$PWD/target/release/git-agents
SAMPLE=$PWD/tests/fixtures/streams/claude-2.1.197.jsonl

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$TMP/home/.gitconfig
export LC_ALL=C TZ=UTC GIT_AGENTS_NO_PROGRESS=1
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OPTIONAL_LOCKS
mkdir -p "$HOME" "$TMP/bin"
printf '[user]\n\tname = Bench\n\temail = bench@example.com\n' >"$GIT_CONFIG_GLOBAL"
export PATH=$TMP/bin:$PATH

# 50 MB of events: the sample's middle lines, doubled until big enough, then its result.
head -n -1 "$SAMPLE" | tail -n +2 >"$TMP/block"
while [ "$(stat -c %s "$TMP/block")" -lt 52428800 ]; do
    cat "$TMP/block" "$TMP/block" >"$TMP/block2" && mv "$TMP/block2" "$TMP/block"
done
{ head -n 1 "$SAMPLE"; head -c 52428800 "$TMP/block" | head -n -1; tail -n 1 "$SAMPLE"; } >"$TMP/big.jsonl"
SIZE=$(stat -c %s "$TMP/big.jsonl")
LINES=$(wc -l <"$TMP/big.jsonl")

cat >"$TMP/bin/claude" <<AGENT
#!/bin/sh
echo "\$GIT_AGENTS_TASK" > "out-\$GIT_AGENTS_TASK.txt"
cat "$TMP/big.jsonl"
AGENT
cp "$TMP/bin/claude" "$TMP/bin/plain-agent"
chmod +x "$TMP/bin/claude" "$TMP/bin/plain-agent"

git init -q -b main "$TMP/repo"
cd "$TMP/repo"
echo hello >README.md
git add README.md && git commit -qm initial

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }

echo "stream: $SIZE bytes, $LINES lines"
echo
echo "== spawn (whole batch, wall s)"
: >"$TMP/sp-parsed"; : >"$TMP/sp-plain"
for i in $(seq "$RUNS"); do
    t0=$(now); "$BIN" spawn --agent claude -p "parsed $i" >/dev/null 2>&1; t1=$(now)
    secs "$t0" "$t1" >>"$TMP/sp-parsed"; echo >>"$TMP/sp-parsed"
    t0=$(now); "$BIN" spawn --command "plain-agent {prompt}" -p "plain $i" >/dev/null 2>&1; t1=$(now)
    secs "$t0" "$t1" >>"$TMP/sp-plain"; echo >>"$TMP/sp-plain"
done
SP=$(grep . "$TMP/sp-parsed" | median); SQ=$(grep . "$TMP/sp-plain" | median)
echo "parsed (claude preset)  $SP"
echo "plain (--command)       $SQ"
awk -v a="$SP" -v b="$SQ" 'BEGIN {printf "ratio parsed/plain      %.2f\n", a / b}'

echo
echo "== parse: logs of the 50 MB task (wall s, median of $RUNS)"
: >"$TMP/l-render"; : >"$TMP/l-raw"; : >"$TMP/l-cat"
LOG=.git/agents/logs/parsed-1.log
for i in $(seq "$RUNS"); do
    t0=$(now); "$BIN" logs parsed-1 >/dev/null; t1=$(now); secs "$t0" "$t1" >>"$TMP/l-render"; echo >>"$TMP/l-render"
    t0=$(now); "$BIN" logs parsed-1 --raw >/dev/null; t1=$(now); secs "$t0" "$t1" >>"$TMP/l-raw"; echo >>"$TMP/l-raw"
    t0=$(now); cat "$LOG" >/dev/null; t1=$(now); secs "$t0" "$t1" >>"$TMP/l-cat"; echo >>"$TMP/l-cat"
done
LR=$(grep . "$TMP/l-render" | median); LW=$(grep . "$TMP/l-raw" | median); LC=$(grep . "$TMP/l-cat" | median)
echo "logs (parsed, rendered) $LR"
echo "logs --raw              $LW"
echo "cat                     $LC"
awk -v a="$LR" -v b="$LW" 'BEGIN {printf "parse+render cost       %.3f s  (goal < 0.5)\nratio logs/raw          %.2f\n", a - b, a / b}'

echo
echo "== cpu: 2,000 events/s for ${DUR}s, the supervisor's CPU (share of one core)"
cat >"$TMP/bin/rate.py" <<'PY'
import os, sys, time
sample, out, dur = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = open(sample).read().splitlines()[1:-1]
def cpu():
    s = open(f"/proc/{os.getppid()}/stat").read()
    f = s[s.rfind(')') + 2:].split()
    return int(f[11]) + int(f[12])
w = sys.stdout
t0 = time.time(); c0 = cpu(); n = 0
while True:
    el = time.time() - t0
    if el >= dur:
        break
    target = int(el * 2000)
    while n < target:
        w.write(lines[n % len(lines)]); w.write("\n"); n += 1
    w.flush()
    time.sleep(0.005)
c1 = cpu(); t1 = time.time()
open(out, "w").write(f"{n} {(c1 - c0) / os.sysconf('SC_CLK_TCK')} {t1 - t0}\n")
PY
cat >"$TMP/bin/claude" <<AGENT
#!/bin/sh
echo x > x.txt
exec python3 "$TMP/bin/rate.py" "$SAMPLE" "$TMP/cpu-\$GIT_AGENTS_TASK" "$DUR"
AGENT
cp "$TMP/bin/claude" "$TMP/bin/plain-agent"
"$BIN" spawn --agent claude -p "rate parsed" >/dev/null 2>&1
"$BIN" spawn --command "plain-agent {prompt}" -p "rate plain" >/dev/null 2>&1
for k in rate-parsed rate-plain; do
    read -r n cpu wall <"$TMP/cpu-$k"
    awk -v k="$k" -v n="$n" -v c="$cpu" -v w="$wall" \
        'BEGIN {printf "%-12s %d events in %.1fs (%.0f/s): %.2fs CPU = %.1f%% of a core\n", k, n, w, n / w, c, 100 * c / w}'
done
