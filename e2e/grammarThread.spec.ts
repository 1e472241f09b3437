import { mkdirSync, writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

/*
 * XGrammar on a thread of its own in the browser (a module Web Worker made from the script's text): what the engine
 * uses for a model with a large vocabulary. The app's JSON mode (jsonMode.spec.ts) runs the built-in model, whose
 * 4,096 tokens keep XGrammar on the engine's own thread; this runs a grammar in a page of the dev server with the
 * thread forced, and the same grammar on the page's thread, and compares what they allow.
 */
test('a grammar on its own thread in the browser allows what it allows on the caller thread, and ends the text', async ({ page }) => {
  mkdirSync('test-results/grammar-thread', { recursive: true });
  writeFileSync(
    'test-results/grammar-thread/run.ts',
    `import { GrammarCompiler } from '../../engine/grammar/grammar.ts';
import { grammarTokenizerInfo } from '../../engine/grammar/tokenizerInfo.ts';

const allowed = (mask: Uint32Array) => Array.from({ length: 5 }, (_, token) => token).filter((token) => (mask[token >>> 5] >>> (token & 31)) & 1);

export async function run(ownThread: boolean) {
  const vocab = new Map(['y', 'e', 's', 'yes', 'no'].map((spelling, id) => [spelling, id]));
  const compiler = await GrammarCompiler.create(grammarTokenizerInfo({ vocabType: 'raw', addPrefixSpace: false }, vocab, new Set(), 5, []), { ownThread });
  const matcher = await (await compiler.compile({ kind: 'ebnf', grammar: 'root ::= "yes" | "no"' })).createMatcher();
  const steps = [allowed(await matcher.nextTokenMask())];
  for (const token of [0, 1]) {
    if (!(await matcher.accept(token))) throw new Error('token ' + token + ' refused');
    steps.push(allowed(await matcher.nextTokenMask()));
  }
  const last = await matcher.accept(2);
  const result = { concurrent: matcher.concurrent, steps, last, terminated: matcher.terminated };
  matcher.dispose();
  compiler.dispose();
  return result;
}
`,
  );
  await page.goto('/');
  const run = (ownThread: boolean) =>
    page.evaluate(async ([url, ownThread]) => {
      const module = (await import(/* @vite-ignore */ url as string)) as { run: (ownThread: boolean) => Promise<unknown> };
      return module.run(ownThread as boolean);
    }, ['/test-results/grammar-thread/run.ts', ownThread] as const);
  const expected = { steps: [[0, 3, 4], [1], [2]], last: true, terminated: true };
  expect(await run(true)).toEqual({ concurrent: true, ...expected });
  expect(await run(false)).toEqual({ concurrent: false, ...expected });
});
