# Sourced by a device plan (scripts/gpu-compare.sh): `step NAME LIMIT CMD...` runs CMD for at most LIMIT seconds and
# appends its output to $OUT/all.txt under "### NAME: CMD", then its exit status and wall time, while nvidia-smi
# samples the SM and memory clocks, power and utilization every 100 ms; `finish_steps` appends each step's median
# clocks over the samples with the GPU busy (a step that ran at low clocks says so). One file: the device tool
# brings back only a few from $OUT.
out_dir=${OUT:-gpu-results}
mkdir -p "$out_dir"
steps_log="$out_dir/all.txt"
steps_clocks="$out_dir/clocks.txt"
# Appended to, never emptied: the device hands each call an empty $OUT, and a plan that sources this file again after
# gpu-compare.sh (for steps of its own) must not wipe what the comparison wrote.
dawn=.gpu/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn.xz" ] && [ ! -f "$dawn" ] && xz -dk "$dawn.xz"
# What the caller wrote in .gpu/COMMIT (the commits of the builds carried), then the GPU.
[ -f .gpu/COMMIT ] && cat .gpu/COMMIT >> "$steps_log"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.memory --format=csv >> "$steps_log" 2>&1

# The median of column $2 of the samples in file $1 taken with the GPU busy (utilization, column 4, above 0).
busy_median() {
  awk -F', ' -v c="$2" '$4 > 0 {print $c}' "$1" | sort -n | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}

step() {
  local name=$1 limit=$2
  shift 2
  local samples="$out_dir/clocks-$name.txt"
  echo "### $name: $*" >> "$steps_log"
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,utilization.gpu --format=csv,noheader,nounits -lms 100 \
    > "$samples" 2>/dev/null &
  local sampler=$! start=$(date +%s%N)
  timeout "$limit" "$@" >> "$steps_log" 2>&1
  local rc=$?
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  echo "rc=$rc wall=$((($(date +%s%N) - start) / 1000000)) ms" >> "$steps_log"
  local busy
  busy=$(awk -F', ' '$4 > 0' "$samples" | wc -l)
  if [ "$busy" -gt 0 ]; then
    echo "$name: $busy busy samples, SM $(busy_median "$samples" 1) MHz, memory $(busy_median "$samples" 2) MHz, power $(busy_median "$samples" 3) W" \
      >> "$steps_clocks"
  fi
  rm -f "$samples"
}

# `lengths_turn PASS BUILD...`: the d=128 single-sequence rows of bench:attention (grid 256) from each build in turn;
# steps d128-BUILD-PASS.
lengths_turn() {
  local pass=$1 dist
  shift
  for dist in "$@"; do
    step "d128-$dist-$pass" 60 bash .gpu/run.sh .gpu "$dist/attention.mjs" --lengths 1k,4k,16k,64k,128k,256k,512k --grid 256
  done
}

# `batches_turn PASS BUILD...`: the batches of bench:attention (ragged, misfit splits, just past one wave; grid 256,
# as the lengths) from each build in turn; steps batches-BUILD-PASS.
batches_turn() {
  local pass=$1 dist
  shift
  for dist in "$@"; do
    step "batches-$dist-$pass" 90 bash .gpu/run.sh .gpu "$dist/attention.mjs" --batches-only --grid 256
  done
}

# `d64_turn PASS BUILD...`: the d=64 single-sequence rows from each build in turn; steps d64-BUILD-PASS.
d64_turn() {
  local pass=$1 dist
  shift
  for dist in "$@"; do
    step "d64-$dist-$pass" 60 bash .gpu/run.sh .gpu "$dist/attention.mjs" --lengths 1k,4k,16k,64k,128k,256k,512k \
      --grid 256 --head-dim 64
  done
}

# `lengths_in_turns PASSES BUILD...`: lengths_turn for passes 1 .. PASSES.
lengths_in_turns() {
  local passes=$1 pass
  shift
  for pass in $(seq "$passes"); do
    lengths_turn "$pass" "$@"
  done
}

# `check_attention BUILD...`: the float64 checks (checkAttention.mjs) of each build; steps check-BUILD.
check_attention() {
  local dist
  for dist in "$@"; do
    step "check-$dist" 80 bash .gpu/run.sh .gpu "$dist/checkAttention.mjs"
  done
}

# `landed_table`: bench:attention's whole table from dist-node (the landed build) with a fresh calibration, then
# cuDNN's column on the same GPU; steps table-landed, cuda-sdpa.
landed_table() {
  step table-landed 110 bash .gpu/run.sh .gpu dist-node/attention.mjs --recalibrate
  step cuda-sdpa 30 python3 bench/cuda_sdpa.py
}

# Whether the GPU is an H200 (a plan's branch for it).
is_h200() {
  nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200
}

# A plan that only an H200 can answer: on any other GPU it says so in the log and ends there.
exit_unless_h200() {
  is_h200 && return
  echo "not an H200: nothing run" >> "$steps_log"
  exit 0
}

finish_steps() {
  echo "### clocks: per step, the median over samples with the GPU busy (utilization > 0)" >> "$steps_log"
  cat "$steps_clocks" >> "$steps_log" 2>/dev/null
  # Each finish lists the steps since the one before.
  rm -f "$steps_clocks"
}
