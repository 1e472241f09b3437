#!/usr/bin/env bash
# Packs what dist-node/checkModels.mjs needs on a GPU machine, which gets the working tree and a few carried
# git-ignored folders but not ../shared: every reference.json, and the files of each model whose weights are not in
# public/models (the small random-weight models). A model in public/models (pydoc-chat-6m) travels with the tree; its
# files are compared with the shared copy first, so the reference is checked against the weights it was made from.
#   bash scripts/pack-gpu-models.sh [SOURCE [DEST]]     (from the project root; default ../shared/models → .gpu/models)
# Then, on the GPU machine:  bash .gpu/run.sh .gpu dist-node/checkModels.mjs --models .gpu/models
set -euo pipefail
src=${1:-../shared/models}
dest=${2:-.gpu/models}
max_mib=15   # what is left of the carry budget beside .gpu's Node.js, Dawn and Vulkan loader, with a margin
[ -d "$src" ] || { echo "pack-gpu-models: $src is not a folder" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
packed=0
for model in "$src"/*/; do
  model=${model%/}
  name=$(basename "$model")
  [ -f "$model/reference.json" ] || continue
  mkdir -p "$dest/$name"
  cp "$model/reference.json" "$dest/$name/"
  shipped=public/models/$name
  if [ -d "$shipped" ]; then
    for file in "$model"/*; do
      [ "$(basename "$file")" = reference.json ] && continue
      cmp -s "$file" "$shipped/$(basename "$file")" ||
        { echo "pack-gpu-models: $file differs from $shipped (or is not there): the reference would not match the shipped weights" >&2; exit 1; }
    done
    echo "$name: reference.json (model files from $shipped, in the tree)"
  else
    find "$model" -maxdepth 1 -type f ! -name README.md -exec cp {} "$dest/$name/" \;
    echo "$name: $(ls "$dest/$name" | tr '\n' ' ')"
  fi
  packed=$((packed + 1))
done
[ "$packed" -gt 0 ] || { echo "pack-gpu-models: no folder of $src has a reference.json" >&2; exit 1; }
bytes=$(du -sb "$dest" | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "$dest: $packed models, $bytes bytes ($mib MiB)"
if [ "$bytes" -gt $((max_mib * 1048576)) ]; then
  echo "pack-gpu-models: over $max_mib MiB: it would not fit beside .gpu's other contents in what a GPU run carries" >&2
  exit 1
fi
