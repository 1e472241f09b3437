import type { ModelSource } from '../engine/modelSource.ts';
import type { KvDtype } from '../kernels/attention/pagedKv.ts';

/**
 * The model source as stored, to load again after a reload: the built-in model, a hub repo, a base URL or a dev
 * server folder. A local folder's files cannot come back from storage: the page starts on the built-in model then.
 */
export function restoreModelSource(stored: unknown): ModelSource | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const { kind, repo, baseUrl, name } = stored as Record<string, unknown>;
  if (kind === 'builtin') return { kind };
  if (kind === 'hub' && typeof repo === 'string' && repo) return { kind, repo };
  if (kind === 'url' && typeof baseUrl === 'string' && baseUrl) return { kind, baseUrl };
  if (kind === 'server' && typeof name === 'string' && name) return { kind, name };
  return undefined;
}

/** The KV cache's precision as stored. */
export function restoreKvDtype(stored: unknown): KvDtype | undefined {
  return stored === 'f16' || stored === 'f32' ? stored : undefined;
}
