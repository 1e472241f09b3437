import { expect, it } from 'vitest';
import { ATTENTION_KERNELS } from '../kernels/attention/plan.ts';
import { seededRandom } from '../kernels/gpu/seededRandom.ts';
import { GREEDY } from '../kernels/model/sampler.ts';
import { testGpu } from '../test/gpu.ts';
import { countLiveBuffers } from '../test/liveBuffers.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { Engine, type GenerateRequest, type StopReason } from './engine.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

/*
 * The long soak (`npm run soak`, not in `npm test`): 10,000 decode steps over 100 conversations, three of them open
 * at a time and taking turns, each turn continuing its conversation (its cached prefix reused), with aborts, stop
 * strings, sampled and greedy turns, and the three attention kernels in turn. The KV pool holds fewer tokens than the
 * open conversations reach, so cached conversations give their pages up to others. What must stay flat from the first
 * hundred steps to the last: live GPU buffers, the JS heap after a full collection, and KV pages (exactly those the
 * conversations' cached tokens need, at every turn's end; none once they are all ended).
 */

const STEPS = 10_000;
const CONVERSATIONS = 100;
const OPEN_AT_ONCE = 3;
const STEPS_PER_CONVERSATION = STEPS / CONVERSATIONS;
const PAGE_SIZE = 16;
const MAX_CONTEXT = 256;
/** A pool of 20 pages (320 tokens): less than three conversations of 130–170 tokens hold. */
const POOL_PAGES = 20;
/**
 * Heap growth allowed between the first hundred steps and the end, after a full collection: V8 keeps code and
 * inline caches for paths first taken later (a kernel's first eviction, a stop string), well under 1 MiB here.
 */
const HEAP_SLACK_BYTES = 2 * 1024 * 1024;

interface OpenConversation {
  id: number;
  /** The conversation so far as the next turn sends it: every prompt and every answer. */
  history: number[];
  stepsLeft: number;
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the soak measures the heap after a full collection: run it with node --expose-gc (npm run soak does)');
  gc();
  return process.memoryUsage().heapUsed;
}

it('10,000 decode steps over 100 conversations keep GPU buffers, KV pages and the JS heap flat', async () => {
  const context = await testGpu();
  const liveBuffers = countLiveBuffers(context.device);
  const files = blobModelFiles('tiny', makeTinyModel({ hiddenSize: 64, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' }));
  const engine = new Engine(context);
  const kvBudgetBytes = POOL_PAGES * 2 * PAGE_SIZE * 64 * 2;
  await engine.load(files, { kvDtype: 'f16', maxContext: MAX_CONTEXT, pageSize: PAGE_SIZE, kvBudgetBytes });
  expect(engine.kvPages().total).toBe(POOL_PAGES);

  const random = seededRandom(17);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const newTokens = (count: number) => Array.from({ length: count }, () => between(3, 511));
  const open: OpenConversation[] = [];
  let opened = 0;
  const openNext = () => {
    opened++;
    open.push({ id: engine.newConversation(), history: newTokens(between(3, 12)), stepsLeft: STEPS_PER_CONVERSATION });
  };
  for (let i = 0; i < OPEN_AT_ONCE; i++) openNext();

  const pagesNeeded = () => open.reduce((pages, c) => pages + Math.ceil(engine.cachedTokens(c.id) / PAGE_SIZE), 0);
  const reasons = new Map<StopReason, number>();
  const turnsBy = new Map<string, number>();
  let steps = 0;
  let turns = 0;
  let reusedTokens = 0;
  /** Turns whose conversation had a cached prefix before and found it given up to others. */
  let evictedTurns = 0;
  let baseline: { steps: number; buffers: number; pages: number; heap: number } | undefined;
  const started = performance.now();

  while (open.length > 0) {
    const conversation = open[turns % open.length];
    const turn = turns++;
    const attention = ATTENTION_KERNELS[turn % ATTENTION_KERNELS.length];
    const abort = turn % 7 === 3 ? new AbortController() : undefined;
    const abortAfter = between(1, 12);
    const request: GenerateRequest = {
      promptIds: conversation.history,
      maxTokens: Math.min(conversation.stepsLeft, between(4, 40)),
      conversation: conversation.id,
      attention,
      sampling: turn % 2 === 0 ? GREEDY : { temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: turn },
      stop: turn % 5 === 1 ? ['e', 'a'] : undefined,
      signal: abort?.signal,
    };
    const cached = engine.cachedTokens(conversation.id);
    if (cached === 0 && conversation.stepsLeft < STEPS_PER_CONVERSATION) evictedTurns++;
    let answer: number[] = [];
    for await (const event of engine.generate(request)) {
      if (event.kind === 'prompt') {
        // The conversation's cached KV is a prefix of its history: all of it is reused (the last prompt token runs again).
        expect(event.reusedTokens, `turn ${turn}`).toBe(Math.min(cached, conversation.history.length - 1));
        reusedTokens += event.reusedTokens;
      } else if (event.kind === 'token') {
        steps++;
        if (abort && event.stats.step + 1 === abortAfter) abort.abort();
      } else {
        answer = event.generatedIds;
        reasons.set(event.reason, (reasons.get(event.reason) ?? 0) + 1);
        if (event.reason === 'stop-string') expect(['e', 'a'].some((s) => event.text.includes(s))).toBe(true);
      }
    }
    turnsBy.set(attention, (turnsBy.get(attention) ?? 0) + 1);
    conversation.history = [...conversation.history, ...answer, ...newTokens(between(1, 4))];
    conversation.stepsLeft -= answer.length;

    // Every page in use belongs to a conversation's cached tokens: none is held by a finished turn.
    expect(engine.kvPages().used, `turn ${turn}`).toBe(pagesNeeded());
    if (conversation.stepsLeft === 0) {
      engine.endConversation(conversation.id);
      open.splice(open.indexOf(conversation), 1);
      if (opened < CONVERSATIONS) openNext();
    }
    if (!baseline && steps >= 100) baseline = { steps, buffers: liveBuffers(), pages: engine.kvPages().used, heap: heapUsed() };
  }

  const end = { steps, buffers: liveBuffers(), pages: engine.kvPages().used, heap: heapUsed() };
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `soak: ${steps} decode steps in ${turns} turns over ${opened} conversations, ${seconds.toFixed(0)} s; ` +
      `turns per kernel ${JSON.stringify(Object.fromEntries(turnsBy))}; endings ${JSON.stringify(Object.fromEntries(reasons))}; ` +
      `prompt tokens reused ${reusedTokens}; turns whose cache was given up ${evictedTurns}; ` +
      `after step ${baseline!.steps} / at the end: live GPU buffers ${baseline!.buffers} / ${end.buffers}, ` +
      `KV pages in use ${baseline!.pages} / ${end.pages} of ${POOL_PAGES}, heap ${(baseline!.heap / 1e6).toFixed(2)} / ${(end.heap / 1e6).toFixed(2)} MB`,
  );
  expect(steps).toBe(STEPS);
  expect(opened).toBe(CONVERSATIONS);
  expect(end.buffers).toBe(baseline!.buffers);
  expect(end.pages).toBe(0);
  expect(end.heap - baseline!.heap).toBeLessThan(HEAP_SLACK_BYTES);
  // Each fault path was taken, and each kernel ran.
  expect(reasons.get('aborted')).toBeGreaterThan(0);
  expect(reasons.get('stop-string')).toBeGreaterThan(0);
  expect(evictedTurns).toBeGreaterThan(0);
  expect([...turnsBy.keys()].sort()).toEqual([...ATTENTION_KERNELS].sort());
  engine.verifyKvCache();
  engine.unload();
});
