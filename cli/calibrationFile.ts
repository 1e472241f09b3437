import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CalibrationStore, GridCalibration } from '../kernels/attention/calibrate.ts';

/** Grid calibrations kept in ~/.cache/lean-decode/calibration.json (or $LEAN_DECODE_CACHE), per adapter and variant. */
export function fileCalibrationStore(path = join(process.env.LEAN_DECODE_CACHE ?? join(homedir(), '.cache', 'lean-decode'), 'calibration.json')): CalibrationStore {
  const read = (): Record<string, GridCalibration> => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, GridCalibration>;
    } catch {
      return {};
    }
  };
  return {
    load: (key) => read()[key],
    save(calibration) {
      const all = read();
      all[calibration.key] = calibration;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, JSON.stringify(all, null, 2));
    },
  };
}
