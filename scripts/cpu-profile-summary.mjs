// Summarizes a V8 CPU profile (node --cpu-prof): self time per function, largest first.
//   node scripts/cpu-profile-summary.mjs PROFILE.cpuprofile [TOP]
// Used to see where the host's part of a decode step goes on the GPU machine, where no profiler UI is at hand.
import { readFileSync } from 'node:fs';

const [file, top = '40'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map();
profile.samples.forEach((id, i) => {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  const name = `${functionName || '(anonymous)'} ${url.split('/').pop()}:${lineNumber + 1}`;
  selfMicros.set(name, (selfMicros.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
console.log(`${(total / 1000).toFixed(1)} ms sampled`);
for (const [name, micros] of [...selfMicros].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${(micros / 1000).toFixed(1).padStart(10)} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${name}`);
}
