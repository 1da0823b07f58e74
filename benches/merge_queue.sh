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
#   N=16 FILES=3000 ROUNDS=3 benches/merge_queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-16}
PLAN=${PLAN:-20}
ROUNDS=${ROUNDS:-3}
FILES=${FILES:-3000}

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
  case $id in t05|t11) spec="$spec; mkdir -p refused; echo $id > refused/$id" ;; esac
  echo "$spec" > "$repo/.git/specs/$id"
done
(cd "$repo" && "$BIN" --manifest .git/agents.yaml spawn -q -j 1 > /dev/null)
orig=$(git -C "$repo" rev-parse main)
cp -a "$repo/.git/agents/tasks" "$tmp/records"

now() { date +%s%N; }
# run NAME ARGS...: one merge from the saved state; records its time and outcome.
declare -A times
declare -A outcome
run() {
  local name=$1
  shift
  local t0
  t0=$(now)
  (cd "$repo" && "$@" > /dev/null 2>&1) || true
  local took=$(( $(now) - t0 ))
  times[$name]="${times[$name]:-} $took"
  echo "  $name: $((took / 1000000)) ms" >&2
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

check='sleep 1; test ! -e refused'
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
[ "${outcome[jobs1]##* }" -eq $((N - 2)) ] || { echo "--jobs 1 landed ${outcome[jobs1]##* } tasks" >&2; exit 1; }

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
awk -v j1="$(m jobs1)" -v j4="$(m jobs4)" -v b4="$(m batch4)" -v re="$(m reuse)" \
    -v fr="$(m fresh)" -v pl="$(median "${plans[@]}")" -v n="$N" -v f="$FILES" \
    -v r="$ROUNDS" -v p="$PLAN" 'BEGIN {
  printf "merge queue of %d tasks (2 failing the check), %d files, median of %d rounds\n", n, f, r
  printf "  --jobs 1, check sleeps 1 s:           %8.0f ms\n", j1 / 1e6
  printf "  --jobs 4:                             %8.0f ms  ratio %.2f (target <= 0.35)\n", j4 / 1e6, j4 / j1
  printf "  --batch 4 --jobs 4:                   %8.0f ms  ratio %.2f (target <= 0.3)\n", b4 / 1e6, b4 / j1
  printf "  fresh checkout per check, check true: %8.0f ms\n", fr / 1e6
  printf "  reused scratch worktrees:             %8.0f ms  ratio %.2f (target <= 0.3)\n", re / 1e6, re / fr
  printf "  merge --plan of %d tasks:             %8.0f ms  (target < 500 ms)\n", p, pl / 1e6
}'
