#!/usr/bin/env bash
# Benchmark: `git agents merge` of N non-conflicting tasks against a plain loop of
# `git merge --no-ff` over the same branches, in identical copies of one repository.
#
# Prints the median wall time of each over ROUNDS rounds and their ratio (target ≤ 0.5).
# The machine is shared and noisy: read the ratio, not the absolute times.
#
#   N=20 ROUNDS=7 FILES=2000 benches/merge.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-20}
ROUNDS=${ROUNDS:-7}
FILES=${FILES:-2000}

cargo build --release --quiet
BIN=$PWD/target/release/git-agents

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Hermetic git: no user or system config, fixed identity.
export HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$tmp/home/.gitconfig
export LC_ALL=C TZ=UTC GIT_AGENTS_NO_PROGRESS=1
mkdir -p "$HOME" "$tmp/bin"
git config --global user.name Bench
git config --global user.email bench@example.com
git config --global init.defaultBranch main

# A repository of FILES files in 50 directories, and N tasks each adding its own file.
tpl=$tmp/template
git init -q "$tpl"
(
  cd "$tpl"
  for d in $(seq 1 50); do
    mkdir -p "src/d$d"
    for f in $(seq 1 $((FILES / 50))); do
      echo "file $d/$f" > "src/d$d/f$f.txt"
    done
  done
  git add -A && git commit -q -m initial
  cat > "$tmp/bin/bench-agent" <<'EOF'
#!/bin/sh
mkdir -p tasks
printf 'work of %s\n' "$GIT_AGENTS_TASK" > "tasks/$GIT_AGENTS_TASK.txt"
EOF
  chmod +x "$tmp/bin/bench-agent"
  {
    echo "command: [$tmp/bin/bench-agent, \"{prompt}\"]"
    echo "tasks:"
    for i in $(seq 1 "$N"); do
      printf '  - id: t%02d\n    prompt: Task %d\n' "$i" "$i"
    done
  } > .git/agents.yaml
  "$BIN" --manifest .git/agents.yaml spawn -q -j 4 > /dev/null
)
branches=$(git -C "$tpl" for-each-ref --format='%(refname:short)' 'refs/heads/agent/')
[ "$(echo "$branches" | wc -l)" -eq "$N" ] || { echo "spawn made the wrong number of branches" >&2; exit 1; }

now() { date +%s%N; }
ours=()
plain=()
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$tmp/a" "$tmp/b"
  cp -a "$tpl" "$tmp/a"
  cp -a "$tpl" "$tmp/b"
  # Alternate which goes first so neither always gets the warmer cache.
  for which in $( ((r % 2)) && echo "ours plain" || echo "plain ours"); do
    if [ "$which" = ours ]; then
      t0=$(now)
      (cd "$tmp/a" && "$BIN" --manifest .git/agents.yaml merge -q > /dev/null)
      ours+=($(( $(now) - t0 )))
    else
      t0=$(now)
      (cd "$tmp/b" && for b in $branches; do git merge -q --no-ff -m "Merge $b" "$b"; done)
      plain+=($(( $(now) - t0 )))
    fi
  done
  # Same history shape: one merge commit per task on each side.
  [ "$(git -C "$tmp/a" rev-list --merges --count main)" -eq "$N" ]
  [ "$(git -C "$tmp/b" rev-list --merges --count main)" -eq "$N" ]
  [ "$(git -C "$tmp/a" rev-parse 'main^{tree}')" = "$(git -C "$tmp/b" rev-parse 'main^{tree}')" ]
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_ours=$(median "${ours[@]}")
m_plain=$(median "${plain[@]}")
awk -v o="$m_ours" -v p="$m_plain" -v n="$N" -v f="$FILES" -v r="$ROUNDS" 'BEGIN {
  printf "merge of %d tasks, %d files, median of %d rounds\n", n, f, r
  printf "  git agents merge:          %8.1f ms\n", o / 1e6
  printf "  loop of git merge --no-ff: %8.1f ms\n", p / 1e6
  printf "  ratio: %.2f (target <= 0.5)\n", o / p
}'
