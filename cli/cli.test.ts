import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { referenceModel } from '../test/sharedModels.ts';

const EOS = '<|im_end|>';

function lean(args: string[]): string {
  return execFileSync(process.execPath, ['bin/lean-decode.mjs', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 280_000 });
}

describe('npx lean-decode', () => {
  const pydoc = referenceModel('pydoc-chat-6m');
  const json = pydoc.cases.find((c) => c.messages?.[0].content === 'What does json.dumps do?')!;
  // The app and CLI stop at EOS; the reference's greedy text runs on past it.
  const endsAtEos = json.greedy_text.includes(EOS);
  const expected = endsAtEos ? json.greedy_text.slice(0, json.greedy_text.indexOf(EOS) + EOS.length) : json.greedy_text;
  const maxTokens = String(json.greedy_ids.length);

  it('generate --chat --greedy with no --model answers from the built-in model', () => {
    const out = JSON.parse(lean(['generate', '--chat', '--prompt', 'What does json.dumps do?', '--greedy', '--max-tokens', maxTokens, '--json']));
    expect(out.prompt_ids).toEqual(json.prompt_ids);
    expect(out.text).toBe(expected);
    expect(out.stop_reason).toBe(endsAtEos ? 'eos' : 'length');
    expect(out.text).toMatch(/^`json\.dumps\(obj, \*, skipkeys=False/);
    expect(out.last_prompt_logits).toHaveLength(4096);
    expect(out.steps.length).toBe(out.generated_ids.length);
  });

  it('generate streams plain text', () => {
    const out = lean(['generate', '--chat', '--prompt', 'What does json.dumps do?', '--greedy', '--max-tokens', maxTokens]);
    expect(out.trim()).toBe(expected.trim());
  });

  it('bench-decode --quick prints a row per context and kernel, and prefill rows (random weights of a named shape)', () => {
    const out = JSON.parse(lean(['bench-decode', '--quick', '--shape', 'tiny-bench', '--contexts', '64,200', '--steps', '4', '--prefill', '70', '--grid', '8', '--json']));
    expect(out.rows).toHaveLength(6);
    for (const row of out.rows) {
      expect(row.tokensPerSecond).toBeGreaterThan(0);
      expect(row.floorTokensPerSecond).toBeGreaterThan(0);
    }
    expect(out.prefillRows.map((row: { kernel: string }) => row.kernel)).toEqual(['lean', 'fd', 'fa2']);
    for (const row of out.prefillRows) expect(row.tokensPerSecond).toBeGreaterThan(0);
  });

  it('names what is wrong with a bad model folder', () => {
    let message = '';
    try {
      lean(['generate', '--model', '/nonexistent-model-folder', '--prompt', 'x']);
    } catch (error) {
      message = String((error as { stderr: string }).stderr);
    }
    expect(message).toMatch(/\[missing-file\] .*config\.json/);
  });
});
