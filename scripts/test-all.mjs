// Runs every suite (typecheck, unit tests on Dawn, e2e in Chromium) and ends with one line: `N passed, N failed`.
import { spawnSync } from 'node:child_process';
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
rmSync(unitJson, { force: true });
const unitStatus = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${unitJson}`], prerequisites.unit);
const unit = readJson(unitJson);
suites.push(
  unit
    ? { name: 'unit', passed: unit.numPassedTests, failed: unit.numFailedTests + (unitStatus !== 0 && unit.numFailedTests === 0 ? 1 : 0) }
    : { name: 'unit', passed: 0, failed: 1 },
);

const e2eJson = `${results}/e2e.json`;
rmSync(e2eJson, { force: true });
const e2eStatus = run('npx', ['playwright', 'test', '--reporter=list,json'], {
  ...prerequisites.e2e,
  PLAYWRIGHT_JSON_OUTPUT_NAME: e2eJson,
});
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
