import type { CacheEviction } from '../bandwidth/streamRead.ts';
import type { RandomFill } from '../gpu/fillRandom.ts';

/**
 * What a model's step does between two layers' attention, as attention's caches see it: the projections read more
 * than the caches hold, and the last of them writes the queries that attention then reads first (from the L2). Work
 * to time calls among (measureAmongOthers): `queries` rewrites the call's queries with the values they hold.
 */
export function betweenLayers(eviction: CacheEviction, queries: RandomFill): (pass: GPUComputePassEncoder) => void {
  return (pass) => {
    eviction.encode(pass);
    queries.encode(pass);
  };
}
