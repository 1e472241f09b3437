// Runs every suite (typecheck, unit tests on Dawn, e2e in Chromium) and ends with one line: `N passed, N failed`.
// The unit and e2e suites run side by side: on a 2-core machine the e2e suite alone leaves about a quarter of the CPU
// idle (its browser waits on its page and worker), and the two together end minutes sooner than one after the other.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { ensureTestPrerequisites } from './ensure-test-prerequisites.mjs';

// A browser and a WebGPU adapter first, installed where missing, so that no suite fails for want of them.
const prerequisites = await ensureTestPrerequisites();
if (!prerequisites) process.exit(1);

const results = 'test-results';
mkdirSync(results, { recursive: true });

function run(command, args, env = {}) {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  const child = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return child.status ?? 1;
}

/** Starts a suite whose output lines are printed as they come, each behind `label`; resolves to its exit status. */
function runLabelled(label, command, args, env = {}) {
  console.log(`${label}$ ${command} ${args.join(' ')}`);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => console.log(label + line));
  }
  return new Promise((resolve) => {
    child.on('error', (error) => {
      console.log(`${label}could not start ${command}: ${error.message}`);
      resolve(1);
    });
    child.on('close', (status) => resolve(status ?? 1));
  });
}

function readJson(path) {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    console.error(`could not parse ${path}`);
    return undefined;
  }
}

const suites = [];

const typecheckStatus = run('npx', ['tsc', '--noEmit']);
suites.push({ name: 'typecheck', passed: typecheckStatus === 0 ? 1 : 0, failed: typecheckStatus === 0 ? 0 : 1 });

const unitJson = `${results}/unit.json`;
const e2eJson = `${results}/e2e.json`;
rmSync(unitJson, { force: true });
rmSync(e2eJson, { force: true });
const [unitStatus, e2eStatus] = await Promise.all([
  runLabelled('unit │ ', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${unitJson}`], prerequisites.unit),
  runLabelled('e2e  │ ', 'npx', ['playwright', 'test', '--reporter=list,json'], { ...prerequisites.e2e, PLAYWRIGHT_JSON_OUTPUT_NAME: e2eJson }),
]);

const unit = readJson(unitJson);
suites.push(
  unit
    ? { name: 'unit', passed: unit.numPassedTests, failed: unit.numFailedTests + (unitStatus !== 0 && unit.numFailedTests === 0 ? 1 : 0) }
    : { name: 'unit', passed: 0, failed: 1 },
);
const e2e = readJson(e2eJson);
suites.push(
  e2e
    ? {
        name: 'e2e',
        passed: e2e.stats.expected + e2e.stats.flaky,
        failed: e2e.stats.unexpected + (e2eStatus !== 0 && e2e.stats.unexpected === 0 ? 1 : 0),
      }
    : { name: 'e2e', passed: 0, failed: 1 },
);

console.log('');
for (const suite of suites) console.log(`${suite.name.padEnd(10)} ${suite.passed} passed, ${suite.failed} failed`);
const passed = suites.reduce((sum, s) => sum + s.passed, 0);
const failed = suites.reduce((sum, s) => sum + s.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
