import type { Flags } from '../cli/flags.ts';
import type { ModelConfig } from '../models/config.ts';
import { MODEL_SHAPES } from '../models/shapes.ts';

/** What the projection benchmarks share: Dawn toggles (diagnosis only) and the model shape they time. */
export function projectionBenchFlags(flags: Flags, quick: boolean): { toggles: string[]; shapeName: string; config: ModelConfig } {
  const toggles = typeof flags.get('toggles') === 'string' ? [flags.get('toggles') as string] : [];
  const shapeName = (flags.get('shape') as string | undefined) ?? (quick ? 'tiny-bench' : 'llama-3.2-1b');
  const config = MODEL_SHAPES[shapeName];
  if (!config) throw new Error(`unknown shape "${shapeName}" (known: ${Object.keys(MODEL_SHAPES).join(', ')})`);
  return { toggles, shapeName, config };
}
