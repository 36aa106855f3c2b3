#!/usr/bin/env bash
# The runs behind the headline figures of docs/RESULTS.md (issue 20), as two
# queues to run side by side, one per core. Every step resumes its run
# directory (`--resume`) and skips a run that has finished (its result.json),
# so after any interruption the same command carries on where it stopped.
#
#   scripts/headline-runs.sh a   # up-down sweep shard 2, its report, then
#                                # `generative --preset paper` seeds 1-3 at
#                                # the sweep's chosen rates
#   scripts/headline-runs.sh b   # up-down sweep shard 1, then `classify
#                                # --preset paper` (dropout) seeds 1-3, the
#                                # CD-1 greedy stage seeds 2-3, then
#                                # `classify --preset hs` seeds 1-3 from
#                                # the paper runs' pretrained stacks,
#                                # then generative seeds 3 and 2 where
#                                # queue a has not started them
#
# B: the deepbelief binary (default: the release build of this checkout).
# RUNS: where the run directories go (default: runs/). Logs: $RUNS/<run>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-${CARGO_TARGET_DIR:-target}/release/deepbelief}
RUNS=${RUNS:-runs}
queue=${1:?usage: scripts/headline-runs.sh a|b}

# run DIR SUBCOMMAND ARGS...: starts DIR with ARGS, or resumes it (its
# configuration is in its config.json), unless it has finished or the
# other queue holds it (a run both queues list goes to the first to
# reach it: its lock file stays locked while that queue runs it), or,
# with wait=1 (a run that the next one needs), waits for the other queue
# to finish it.
run() {
  local dir=$RUNS/$1 subcommand=$2
  shift 2
  local lock
  exec {lock}>"$dir.lock"
  if ! flock -n "$lock" && { [ "${wait:-0}" != 1 ] || ! flock "$lock"; }; then
    echo "$dir: running in the other queue"
    exec {lock}>&-
    return
  fi
  if [ -f "$dir/result.json" ]; then
    echo "$dir: finished"
    exec {lock}>&-
    return
  fi
  local args=("$@")
  [ -f "$dir/config.json" ] && args=(--resume)
  echo "$dir: $subcommand ${args[*]}"
  "$B" "$subcommand" --device flex "${args[@]}" --out "$dir" >>"$dir.log" 2>&1 ||
    { echo "$dir failed; see $dir.log" >&2; exit 1; }
  exec {lock}>&-
}

# generative_paper SEED: the `paper` preset at the sweep's chosen up-down
# rates, its clamped samples also read by the quick classifier.
generative_paper() {
  local chosen=$RUNS/updown-sweep-paper/sweep.json lr momentum decay
  # The other shard may still be on its last arm: wait for the whole table.
  until "$B" updown-sweep --device flex --out "$RUNS/updown-sweep-paper" --report \
    >>"$RUNS/updown-sweep-paper-report.log" 2>&1; do sleep 120; done
  read -r lr momentum decay < <(python3 -c '
import json, sys
chosen = json.load(open(sys.argv[1]))["chosen"]
print(chosen["learning_rate"], chosen["momentum"], chosen["weight_decay"])' "$chosen")
  wait=1 run classify-quick classify --preset quick
  run "generative-paper-seed$1" generative --preset paper --seed "$1" \
    --updown-lr "$lr" --updown-momentum "$momentum" --updown-weight-decay "$decay" \
    --samples-per-class 50 --classifier "$RUNS/classify-quick/model.safetensors"
}

sweep_shard() {
  local dir=$RUNS/updown-sweep-paper
  local started=()
  [ -f "$dir/run.json" ] && started=(--resume)
  "$B" updown-sweep --device flex --out "$dir" "${started[@]}" --shard "$1/2" \
    >>"$dir-shard-$1.log" 2>&1
}

case $queue in
a)
  sweep_shard 2
  for seed in 1 2 3; do
    generative_paper "$seed"
  done
  ;;
b)
  sweep_shard 1
  for seed in 1 2 3; do
    run "classify-paper-seed$seed" classify --preset paper --seed "$seed"
  done
  # The greedy stage with a CD-1 top RBM as HOT (rate 0.03, sampled
  # reconstruction; seed 1 is docs/RESULTS.md's runs/greedy-cd1-hot).
  for seed in 2 3; do
    run "greedy-cd1-seed$seed" generative --preset paper --seed "$seed" \
      --top-cd-k 1 --top-cd-lr 0.03 --top-sampled-reconstruction \
      --updown-epochs 1 --final-epochs 0 --sample-steps 1 --samples-per-class 1
  done
  # H&S's fine-tuning. Its pretraining is the `paper` preset's (the same
  # configuration and seed), so each seed starts from that run's stack
  # rather than pretraining it again (about an hour a seed here).
  for seed in 1 2 3; do
    run "classify-hs-seed$seed" classify --preset hs --seed "$seed" \
      --pretrained "$RUNS/classify-paper-seed$seed/pretrained.safetensors"
  done
  # Then the generative seed that queue a has not reached (its runs take
  # the longest): the lock gives each run to one queue.
  for seed in 3 2; do
    generative_paper "$seed"
  done
  ;;
*)
  echo "usage: scripts/headline-runs.sh a|b" >&2
  exit 2
  ;;
esac
