// Tint's SPIR-V of WGSL files, on any Dawn adapter (SwiftShader included): compiles each file's `main` with Dawn's
// dump_shaders toggle, which logs the WGSL and the SPIR-V disassembly to stdout (cut it with
// ../2026-12-05-e/split-shader-dump.py). Tint's output does not depend on the GPU, so a kernel built for another
// adapter (subgroups of 32: buildAttentionVariant with subgroupMinSize 32) shows here which accesses Dawn's robustness
// clamps and which subgroup operations Tint guards, without that GPU.
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node docs/h200/2026-12-05-h/dump-spirv.mjs A.wgsl ... > dump.txt
import { readFileSync } from 'node:fs';
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const adapter = await create(['enable-dawn-features=dump_shaders']).requestAdapter();
const device = await adapter.requestDevice({
  requiredFeatures: ['subgroups'],
  requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize },
});
for (const file of process.argv.slice(2)) {
  const module = device.createShaderModule({ code: readFileSync(file, 'utf8') });
  for (const message of (await module.getCompilationInfo()).messages) {
    if (message.type === 'error') console.error(`${file}:${message.lineNum}: ${message.message}`);
  }
  device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
}
await device.queue.onSubmittedWorkDone();
