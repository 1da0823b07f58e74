#!/usr/bin/env bash
# Benchmark: the merge queue's speed-ups against the one-at-a-time queue, in the same run
# on the same repository (FILES files, N tasks each adding a file of its own; two of
# them, t05 and t11, add a file the check refuses):
#
#   --jobs 4            against --jobs 1           (check: sleep 1, then the verdict)
#   --batch 4 --jobs 4  against --jobs 1           (same check)
#   reused scratch worktrees against a fresh checkout per check
#                       (GIT_AGENTS_MERGE_SCRATCH=fresh; check: true)
#   merge --plan of PLAN tasks (20), each touching a file some other task touches
#
# Between runs main and the task records are put back, so every run merges the same
# queue; each run must land the same tasks with the same final tree. Prints the median
# of ROUNDS rounds and the ratios. The machine is shared and noisy: read the ratios.
#
# Next to the times: how many checks each run started and in how many rounds of the
# 1 s check (a round: the checks that started within 0.9 s of its first; the check
# logs its own start), and the floor for this placement of the failing tasks: the
# rounds an exact queue needs with no overhead at all (no checkout, no merge, no
# process start), simulated below. --jobs J: each round checks the next J candidates,
# each on the result holding every earlier one (never betting that one fails); a
# failure throws away the checks after it. --batch B --jobs J: the queue's own rule
# (the undecided candidates spread over the J slots in batches of at most B; a failed
# batch's prefixes all checked in the next round, the slots left going on past it).
#
#   N=16 FILES=3000 ROUNDS=3 benches/merge_queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-16}
PLAN=${PLAN:-20}
ROUNDS=${ROUNDS:-3}
FILES=${FILES:-3000}

FAILING=${FAILING:-5 11} # the tasks whose check fails: t05 and t11
cargo build --release --quiet
BIN=$PWD/target/release/git-agents

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$tmp/home/.gitconfig
export LC_ALL=C TZ=UTC GIT_AGENTS_NO_PROGRESS=1
mkdir -p "$HOME" "$tmp/bin"
git config --global user.name Bench
git config --global user.email bench@example.com
git config --global init.defaultBranch main

# A repository of FILES files in 60 directories; the agent runs the task's script.
make_repo() { # dir tasks
  local dir=$1 n=$2
  git init -q "$dir"
  (
    cd "$dir"
    for d in $(seq 1 60); do
      mkdir -p "src/d$d"
      for f in $(seq 1 $((FILES / 60))); do
        echo "file $d/$f" > "src/d$d/f$f.txt"
      done
    done
    git add -A && git commit -q -m initial
    mkdir -p .git/specs
    {
      echo "command: [$tmp/bin/bench-agent]"
      echo "tasks:"
      for i in $(seq 1 "$n"); do
        printf '  - id: t%02d\n    prompt: Task %d\n' "$i" "$i"
      done
    } > .git/agents.yaml
  )
}
cat > "$tmp/bin/bench-agent" <<'EOF'
#!/bin/sh
. "$(git rev-parse --git-common-dir)/specs/$GIT_AGENTS_TASK"
EOF
chmod +x "$tmp/bin/bench-agent"

repo=$tmp/queue
make_repo "$repo" "$N"
for i in $(seq 1 "$N"); do
  id=$(printf 't%02d' "$i")
  spec="printf 'work of %s\n' $id > src/d$i/$id.txt"
  case " $FAILING " in *" $((10#${id#t})) "*) spec="$spec; mkdir -p refused; echo $id > refused/$id" ;; esac
  echo "$spec" > "$repo/.git/specs/$id"
done
(cd "$repo" && "$BIN" --manifest .git/agents.yaml spawn -q -j 1 > /dev/null)
orig=$(git -C "$repo" rev-parse main)
cp -a "$repo/.git/agents/tasks" "$tmp/records"

now() { date +%s%N; }
# run NAME ARGS...: one merge from the saved state; records its time and outcome.
declare -A times
declare -A outcome
declare -A rounds
starts=$tmp/starts
# The rounds in the starts the check logged: a start 0.9 s or more after the current
# round's first begins the next round. Prints "CHECKS ROUNDS".
count_rounds() {
  sort -n "$starts" | awk '{ if (NR == 1 || $1 - first >= 9e8) { r++; first = $1 } } END { print NR, r + 0 }'
}
run() {
  local name=$1
  shift
  local t0
  : > "$starts"
  # Each run starts on a quiet disk: the last run's removed worktrees, which a merge
  # deletes in the background once it has answered, are gone, and written out.
  while find "$repo/.git/agents/trash" -mindepth 1 -maxdepth 1 ! -name '*.pid' 2>/dev/null | grep -q .; do
    sleep 0.1
  done
  sync
  t0=$(now)
  (cd "$repo" && "$@" > /dev/null 2>&1) || true
  local took=$(( $(now) - t0 ))
  times[$name]="${times[$name]:-} $took"
  local cr
  cr=$(count_rounds)
  rounds[$name]="${rounds[$name]:-} ${cr#* }"
  echo "  $name: $((took / 1000000)) ms, ${cr% *} checks in ${cr#* } rounds" >&2
  local got
  got="$(git -C "$repo" log --first-parent --format=%T main -1) $(git -C "$repo" rev-list --first-parent --count "$orig..main")"
  if [ -n "${outcome[$name]:-}" ] && [ "${outcome[$name]}" != "$got" ]; then
    echo "$name: a different outcome from one round to the next" >&2
    exit 1
  fi
  outcome[$name]=$got
  git -C "$repo" update-ref refs/heads/main "$orig"
  git -C "$repo" reset -q --hard main
  cp -a "$tmp/records/." "$repo/.git/agents/tasks/"
}

check="date +%s%N >> $starts; sleep 1; test ! -e refused"
merge=("$BIN" --manifest .git/agents.yaml merge --check)
for r in $(seq 1 "$ROUNDS"); do
  run jobs1 "${merge[@]}" "$check" --jobs 1
  run jobs4 "${merge[@]}" "$check" --jobs 4
  run batch4 "${merge[@]}" "$check" --batch 4 --jobs 4
  run reuse "${merge[@]}" true --jobs 1
  GIT_AGENTS_MERGE_SCRATCH=fresh run fresh "${merge[@]}" true --jobs 1
done
for name in jobs4 batch4; do
  [ "${outcome[$name]}" = "${outcome[jobs1]}" ] || { echo "$name landed otherwise than --jobs 1" >&2; exit 1; }
done
[ "${outcome[reuse]}" = "${outcome[fresh]}" ] || { echo "reuse and fresh differ" >&2; exit 1; }
[ "${outcome[jobs1]##* }" -eq $((N - $(wc -w <<< "$FAILING"))) ] || { echo "--jobs 1 landed ${outcome[jobs1]##* } tasks" >&2; exit 1; }

# The forecast: PLAN tasks, task i rewriting files of its own and one shared with i+1.
plan=$tmp/plan
make_repo "$plan" "$PLAN"
for i in $(seq 1 "$PLAN"); do
  id=$(printf 't%02d' "$i")
  echo "echo $id > src/d$i/f1.txt; echo $id > src/d$((i + 1))/f2.txt; echo $id > own-$id.txt" \
    > "$plan/.git/specs/$id"
done
(cd "$plan" && "$BIN" --manifest .git/agents.yaml spawn -q -j 1 > /dev/null)
plans=()
for r in $(seq 1 "$ROUNDS"); do
  t0=$(now)
  (cd "$plan" && "$BIN" --manifest .git/agents.yaml merge --plan --json > "$tmp/plan.json")
  plans+=($(( $(now) - t0 )))
done
grep -q '"conflicts_with"' "$tmp/plan.json"

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m() { median ${times[$1]}; }

# floor N J B: the rounds of 1 s an exact queue with J slots and batches of at most B
# (B <= J) needs with no overhead, the tasks in FAILING failing their check (see the top).
floor() {
  awk -v n="$1" -v J="$2" -v B="$3" -v fail="$FAILING" 'BEGIN {
    split(fail, fs, " "); for (i in fs) F[fs[i]] = 1
    len = 0; for (i = 1; i <= n; i++) L[++len] = i
    hk = 0 # > 0: the first failure is among L[1..hk] (a batch of hk failed)
    while (len > 0) {
      rounds++; s = J
      if (hk > 0) {
        # every prefix of the failed batch but the whole checked at once
        f = 0; for (i = 1; i <= hk && !f; i++) if (L[i] in F) f = i
        s -= hk - 1; drop(f); cont = (f == hk); hk = 0
        if (!cont || s == 0) continue
      }
      pos = 0; hit = 0
      while (s > 0 && pos < len) {
        size = int((len - pos + s - 1) / s); if (size > B) size = B
        for (i = pos + 1; i <= pos + size; i++) if (L[i] in F) hit = 1
        if (hit) break
        pos += size; s--
      }
      if (!hit) { drop(pos); continue }
      drop(pos) # the batches before the one that failed passed
      if (size == 1) drop(1); else hk = size
    }
    print rounds
  }
  function drop(k,   i) { for (i = 1; i + k <= len; i++) L[i] = L[i + k]; len -= k }'
}
fj=$(floor "$N" 4 1)
fb=$(floor "$N" 4 4)
mr() { median ${rounds[$1]}; }
awk -v j1="$(m jobs1)" -v j4="$(m jobs4)" -v b4="$(m batch4)" -v re="$(m reuse)" \
    -v fr="$(m fresh)" -v pl="$(median "${plans[@]}")" -v n="$N" -v f="$FILES" \
    -v r="$ROUNDS" -v p="$PLAN" -v fj="$fj" -v fb="$fb" -v fail="$FAILING" \
    -v r1="$(mr jobs1)" -v r4="$(mr jobs4)" -v rb="$(mr batch4)" 'BEGIN {
  gsub(/ +/, ", t", fail)
  printf "merge queue of %d tasks (t%s failing the check), %d files, median of %d rounds\n", n, fail, f, r
  printf "  --jobs 1, check sleeps 1 s:           %8.0f ms  %2d rounds of the check\n", j1 / 1e6, r1
  printf "  --jobs 4:                             %8.0f ms  %2d rounds; ratio %.2f (target <= 0.35; floor %d/%d = %.2f)\n", j4 / 1e6, r4, j4 / j1, fj, n, fj / n
  printf "  --batch 4 --jobs 4:                   %8.0f ms  %2d rounds; ratio %.2f (target <= 0.3; floor %d/%d = %.2f)\n", b4 / 1e6, rb, b4 / j1, fb, n, fb / n
  printf "  fresh checkout per check, check true: %8.0f ms\n", fr / 1e6
  printf "  reused scratch worktrees:             %8.0f ms  ratio %.2f (target <= 0.3)\n", re / 1e6, re / fr
  printf "  merge --plan of %d tasks:             %8.0f ms  (target < 500 ms)\n", p, pl / 1e6
}'
