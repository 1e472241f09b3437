# Sourced by a device plan's build script (docs/h200/*/build-dists.sh), from the project root with kernels/ committed:
# Node builds of the kernels as the working tree has them (patched, or taken from another commit), packed for one call
# to carry. kernels/ is restored to HEAD on exit.
git diff --quiet -- kernels || { echo "kernels/ has changes: commit or stash them first" >&2; exit 1; }
# The attention kernel's files, to take from another commit.
attention_kernel=(kernels/attention/streamed_attention.wgsl kernels/attention/variant.ts)
# Through the index, so that a patch applied after another merges in three ways (git apply -3).
restore_kernels() { git reset -q -- kernels && git checkout HEAD -- kernels; }
trap restore_kernels EXIT
builds=()

# `build_dist DIST`: the working tree's kernels built as DIST.
build_dist() {
  rm -rf "$1" && npx vite build -c vite.node.config.ts --outDir "$1" > /dev/null
  builds+=("$1")
}

# `build_commits NAME:COMMIT...`: the attention kernel as each COMMIT has it, built as dist-NAME.
build_commits() {
  local pair
  for pair in "$@"; do
    git checkout "${pair#*:}" -- "${attention_kernel[@]}"
    build_dist "dist-${pair%%:*}"
    restore_kernels
  done
}

# `build_patched DIST PATCH [NAME]`: the kernels with PATCH applied (merged in three ways) built as DIST, and as
# dist-arith-NAME where NAME is given; kernels/ restored after.
build_patched() {
  git apply -3 "$2"
  build_dist "$1"
  if [ -n "${3:-}" ]; then build_arith "$3"; fi
  restore_kernels
}

# `build_arith NAME`: the working tree's kernels with `build-ablations.mjs kv-rows-64` (K and V from L1: the
# arithmetic alone; wrong results, the times the point), as dist-arith-NAME.
build_arith() {
  rm -rf "dist-arith-$1" && node scripts/build-ablations.mjs kv-rows-64 > /dev/null
  mv dist-ablate-kv-rows-64 "dist-arith-$1"
  builds+=("dist-arith-$1")
}

# `pack_builds [TARBALL]`: every build made into TARBALL (default .gpu/dists.tar.xz).
pack_builds() {
  local tarball=${1:-.gpu/dists.tar.xz}
  tar -cJf "$tarball" "${builds[@]}"
  echo "packed ${#builds[@]} builds, $(du -h "$tarball" | cut -f1), into $tarball; now write .gpu/COMMIT"
}
