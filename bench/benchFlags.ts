import type { Flags } from '../cli/flags.ts';
import type { ModelConfig } from '../models/config.ts';
import { MODEL_SHAPES } from '../models/shapes.ts';

/** `--toggles enable-dawn-features=...`: Dawn toggles for a diagnostic run (never what Chrome runs), none by default. */
export function toggleFlags(flags: Flags): string[] {
  const toggles = flags.get('toggles');
  return typeof toggles === 'string' ? [toggles] : [];
}

/** What the projection benchmarks share: Dawn toggles (diagnosis only) and the model shape they time. */
export function projectionBenchFlags(flags: Flags, quick: boolean): { toggles: string[]; shapeName: string; config: ModelConfig } {
  const toggles = toggleFlags(flags);
  const shapeName = (flags.get('shape') as string | undefined) ?? (quick ? 'tiny-bench' : 'llama-3.2-1b');
  const config = MODEL_SHAPES[shapeName];
  if (!config) throw new Error(`unknown shape "${shapeName}" (known: ${Object.keys(MODEL_SHAPES).join(', ')})`);
  return { toggles, shapeName, config };
}
