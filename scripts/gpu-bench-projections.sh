set -u
out=${OUT:-gpu-results}
mkdir -p $out
R="bash .gpu/run.sh .gpu"
$R dist-node/linear.mjs 2>&1 | tee $out/linear.txt
$R dist-node/linear.mjs --repeats 15 --toggles enable-dawn-features=disable_robustness,disable_workgroup_init,skip_validation > $out/linear-diagnostic.txt 2>&1
$R dist-node/cli.mjs bench-decode --shape llama-3.2-1b --contexts 1k,32k,128k --prefill 1k,8k,32k 2>&1 | tee $out/decode.txt
$R dist-node/cli.mjs bench-decode --contexts 1k --prefill 1k 2>&1 | tee $out/decode-pydoc.txt
