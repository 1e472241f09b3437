import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors/engineError.ts';
import { referenceModel } from '../test/sharedModels.ts';
import { BENCH_DECODE } from './benchDecode.ts';
import { describeFailure, EXIT_CODES } from './exit.ts';
import { parseCommandLine, UsageError, type CommandSpec, type FlagTable } from './flags.ts';
import { GENERATE } from './generate.ts';
import { SERVE } from './serve.ts';

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

  const generate = (args: string[]) => spawnSync(process.execPath, ['bin/lean-decode.mjs', 'generate', ...args], { encoding: 'utf8', timeout: 280_000 });

  it('generate streams plain text, without the end-of-sequence token', () => {
    const run = generate(['--chat', '--prompt', 'What does json.dumps do?', '--greedy', '--max-tokens', maxTokens]);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(expected.replace(EOS, '').trim());
    expect(run.stderr).not.toContain('--chat');
  });

  it('generate names --chat on stderr when the model has a chat template and the prompt goes raw', () => {
    const run = generate(['--prompt', 'hi', '--greedy', '--max-tokens', '2']);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('the model has a chat template: --chat wraps the prompt in it as a user message');
  });

  it('bench-decode --quick prints a row per context and kernel, and prefill rows (random weights of a named shape)', () => {
    const out = JSON.parse(lean(['bench-decode', '--quick', '--shape', 'tiny-bench', '--contexts', '64,200', '--steps', '4', '--prefill', '70,130', '--grid', '8', '--json']));
    expect(out.rows).toHaveLength(6);
    for (const row of out.rows) {
      expect(row.tokensPerSecond).toBeGreaterThan(0);
      expect(row.floorTokensPerSecond).toBeGreaterThan(0);
      // Embedding; per layer norm+qkv (with rope and the KV write in its epilogue where the adapter allows, else
      // followed by rope+kv), attention (and its merge where a head is split: never in FA2-style), o,
      // norm+gate+up, down; final norm, LM head, sampler (in two dispatches where it scales the logits in chunks).
      const perStep = (out.decodeFusesRopeKv ? 13 : 15) + out.samplerDispatches;
      if (row.kernel === 'fa2') expect(row.dispatches).toBe(perStep);
      else expect([perStep, perStep + 2]).toContain(row.dispatches);
    }
    expect(out.prefillRows.map((row: { tokens: number; kernel: string }) => [row.tokens, row.kernel])).toEqual([[70, 'lean'], [130, 'lean']]);
    for (const row of out.prefillRows) expect(row.tokensPerSecond).toBeGreaterThan(0);
    // A shape has no tokenizer: the built-in model's stands in for the mask rows (first kernel, every context).
    expect(out.maskRows.map((row: { context: number; kernel: string }) => [row.context, row.kernel])).toEqual([[64, 'lean'], [200, 'lean']]);
    for (const row of out.maskRows) expect(row.maskedTokensPerSecond).toBeGreaterThan(0);
  });

  it('bench-decode on a model with a tokenizer adds a row under a JSON schema\'s token mask, beside free decode', () => {
    const out = JSON.parse(lean(['bench-decode', '--quick', '--contexts', '64', '--attention', 'fa2', '--steps', '4', '--grid', '8', '--json']));
    expect(out.maskRows).toHaveLength(1);
    expect(out.maskRows[0]).toMatchObject({ context: 64, kernel: 'fa2' });
    expect(out.maskRows[0].maskedTokensPerSecond).toBeGreaterThan(0);
    expect(out.maskRows[0].freeTokensPerSecond).toBeGreaterThan(0);
  });

  it('bench-decode --skip-mask leaves the mask rows out (for builds whose tokens mean nothing)', () => {
    const out = JSON.parse(lean(['bench-decode', '--quick', '--shape', 'tiny-bench', '--contexts', '64', '--attention', 'fa2', '--steps', '2', '--prefill', '0', '--grid', '8', '--skip-mask', '--json']));
    expect(out.rows.map((row: { context: number; kernel: string }) => [row.context, row.kernel])).toEqual([[64, 'fa2']]);
    expect(out.maskRows).toEqual([]);
  });

  it('names what is wrong with a bad model folder, keeping the engine\'s kind of error', () => {
    const { status, stderr } = leanStatus(['generate', '--model', '/nonexistent-model-folder', '--prompt', 'x']);
    expect(stderr).toMatch(/\[missing-file\] .*config\.json/);
    expect(status).toBe(EXIT_CODES.engineError);
  });
});

/** Runs the CLI to its end, failing or not. */
function leanStatus(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const { status, stdout, stderr } = spawnSync(process.execPath, ['bin/lean-decode.mjs', ...args], { encoding: 'utf8', timeout: 280_000 });
  return { status, stdout, stderr };
}

/** The message of the UsageError that parsing `argv` throws, or a failure when it parses. */
function usageError(command: CommandSpec, argv: string[]): string {
  try {
    parseCommandLine(command, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error(`${command.name} ${argv.join(' ')} parsed without an error`);
}

/**
 * For each flag of each command, command lines that must be refused: values outside the flag's set or of the wrong
 * type. Written out by hand, not derived from the flag tables, and required to cover every flag a table declares.
 */
const REFUSED: Record<string, { command: CommandSpec; valid: string[]; cases: Record<string, string[][]> }> = {
  generate: {
    command: GENERATE,
    valid: ['--prompt', 'x'],
    cases: {
      prompt: [['--prompt=x']], // given twice with `valid`
      model: [['--model', '--chat']],
      chat: [['--chat=yes'], ['--chat', 'yes']],
      'max-tokens': [['--max-tokens', '0'], ['--max-tokens', '-3'], ['--max-tokens', '1.5'], ['--max-tokens', 'many'], ['--max-tokens', '1e3'], ['--max-tokens=']],
      greedy: [['--greedy=1'], ['--greedy', '--temperature', '1'], ['--greedy', '--seed', '3']],
      temperature: [['--temperature', '-0.5'], ['--temperature', 'hot'], ['--temperature', '0x1']],
      'top-p': [['--top-p', '0'], ['--top-p', '1.5'], ['--top-p', 'x']],
      'top-k': [['--top-k', '-1'], ['--top-k', '2.5'], ['--top-k', 'all']],
      'repetition-penalty': [['--repetition-penalty', '0'], ['--repetition-penalty', '-1'], ['--repetition-penalty', 'x']],
      seed: [['--seed', '-1'], ['--seed', '4294967296'], ['--seed', '1.5']],
      attention: [['--attention', 'foo'], ['--attention', 'lean,fd'], ['--attention', 'LEAN']],
      kv: [['--kv', 'f8'], ['--kv', 'bf16']],
      calibrate: [['--calibrate=no']],
      json: [['--json=true']],
    },
  },
  serve: {
    command: SERVE,
    valid: [],
    cases: {
      model: [['--model', '--port', '80']],
      host: [['--host'], ['--host', '--port', '80']],
      port: [['--port', '65536'], ['--port', '-1'], ['--port', 'http'], ['--port', '80.5']],
    },
  },
  'bench-decode': {
    command: BENCH_DECODE,
    valid: [],
    cases: {
      model: [['--model', 'DIR', '--shape', 'tiny-bench']],
      shape: [['--shape', 'llama'], ['--shape', 'tiny']],
      contexts: [['--contexts', '1k,2q'], ['--contexts', '0'], ['--contexts', '1k,'], ['--contexts', '1.5k']],
      attention: [['--attention', 'lean,foo'], ['--attention', 'lean,lean'], ['--attention', 'lean,'], ['--attention', 'f8']],
      steps: [['--steps', '0'], ['--steps', '2.5'], ['--steps', 'x']],
      prefill: [['--prefill', '1k,-2'], ['--prefill', '-1'], ['--prefill', '4q']],
      'prefill-chunk': [['--prefill-chunk', '0'], ['--prefill-chunk', '5000'], ['--prefill-chunk', '1.5']],
      'prefill-attention': [['--prefill-attention', 'fast'], ['--prefill-attention', 'chunk,decode'], ['--prefill-attention']],
      'decode-depth': [['--decode-depth', '0'], ['--decode-depth', '9'], ['--decode-depth', 'deep']],
      grid: [['--grid', '0'], ['--grid', 'x']],
      'attention-unroll': [['--attention-unroll', '0'], ['--attention-unroll', '9'], ['--attention-unroll', 'x']],
      'attention-workgroup': [['--attention-workgroup', '16'], ['--attention-workgroup', '512'], ['--attention-workgroup', '1.5']],
      schema: [['--schema']],
      toggles: [['--toggles']],
      json: [['--json=1']],
      'skip-mask': [['--skip-mask=true']],
      quick: [['--quick', 'yes']],
    },
  },
};

describe('strict flags', () => {
  for (const [name, { command, valid, cases }] of Object.entries(REFUSED)) {
    const flags: FlagTable = command.flags;
    const choicesOf = (flag: string) => {
      const spec = flags[flag];
      return spec.type === 'choice' || spec.type === 'choices' ? spec.choices : [];
    };

    it(`${name}: the refused values cover every flag`, () => {
      expect(Object.keys(cases).sort()).toEqual(Object.keys(flags).sort());
    });

    it(`${name}: the valid base command line parses`, () => {
      expect(parseCommandLine(command, valid).help).toBe(false);
    });

    for (const [flag, lines] of Object.entries(cases)) {
      it(`${name} --${flag}: values outside its set are refused, naming the flag${choicesOf(flag).length ? ' and its choices' : ''}`, () => {
        for (const line of lines) {
          const message = usageError(command, [...valid, ...line]);
          expect(message, line.join(' ')).toMatch(new RegExp(`--${flag}\\b`));
          if (line.length === 2 && !line[1].startsWith('-')) for (const choice of choicesOf(flag)) expect(message).toContain(choice);
        }
      });

      it(`${name} --${flag}: a typo is an unknown flag, and the flag is suggested`, () => {
        const value = flags[flag].type === 'switch' ? [] : ['1'];
        const doubled = `--${flag}${flag.at(-1)}`;
        expect(usageError(command, [...valid, doubled, ...value])).toMatch(new RegExp(`^unknown flag ${doubled}; did you mean --${flag}\\?`));
        const dropped = `--${flag.slice(0, -1)}`;
        expect(usageError(command, [...valid, dropped, ...value])).toMatch(new RegExp(`^unknown flag ${dropped}[;( ]`));
      });

      if (flags[flag].type !== 'switch') {
        it(`${name} --${flag}: a missing value is refused`, () => {
          const base = valid.includes(`--${flag}`) ? [] : valid;
          expect(usageError(command, [...base, `--${flag}`])).toMatch(new RegExp(`^--${flag} needs a value`));
          expect(usageError(command, [...base, `--${flag}`, '--json'])).toMatch(new RegExp(`^--${flag} needs a value: .*; got the flag --json`));
        });
      }
    }

    it(`${name}: declared defaults are values their flags accept, and excluded flags exist`, () => {
      for (const [flag, spec] of Object.entries(flags)) {
        if ('default' in spec && spec.default !== undefined) {
          const parsed = parseCommandLine(command, [...valid, `--${flag}=${spec.default}`]);
          expect(parsed.help ? 'help' : parsed.flags[flag]).toBe(spec.default);
        }
        for (const other of spec.excludes ?? []) expect(Object.keys(flags)).toContain(other);
      }
    });
  }

  it('a stray argument, a flag given twice and a missing required flag are refused', () => {
    expect(usageError(GENERATE, ['--prompt', 'x', 'y'])).toMatch(/^unexpected argument "y"/);
    expect(usageError(GENERATE, ['--prompt', 'x', '--seed', '1', '--seed', '2'])).toMatch(/^--seed is given twice/);
    expect(usageError(GENERATE, ['--json'])).toMatch(/^--prompt is required/);
    expect(usageError(GENERATE, ['--prompt', 'x', '-k'])).toMatch(/^unknown flag -k[;( ]/);
  });

  it('generate: values are typed, defaults filled in', () => {
    const parsed = parseCommandLine(GENERATE, ['--prompt=-x', '--attention', 'fd', '--kv', 'f32', '--top-p', '.5', '--seed', '4294967295', '--chat']);
    expect(parsed).toEqual({
      help: false,
      flags: { prompt: '-x', attention: 'fd', kv: 'f32', 'top-p': 0.5, seed: 2 ** 32 - 1, chat: true, greedy: false, json: false, calibrate: false, 'max-tokens': 256, temperature: 0.7, 'top-k': 0, 'repetition-penalty': 1 },
    });
  });

  it('bench-decode: lists and sizes are parsed', () => {
    const parsed = parseCommandLine(BENCH_DECODE, ['--attention', 'fd,lean', '--contexts', '1k,200,128K', '--prefill', '4k', '--shape', 'tiny-bench', '--grid', '8']);
    expect(parsed).toEqual({ help: false, flags: { attention: ['fd', 'lean'], contexts: [1024, 200, 131072], prefill: [4096], shape: 'tiny-bench', grid: 8, json: false, quick: false, 'skip-mask': false } });
  });

  it('--help wins over anything else on the line', () => {
    expect(parseCommandLine(GENERATE, ['--max-token', '3', '--help'])).toEqual({ help: true });
    expect(parseCommandLine(BENCH_DECODE, ['-h'])).toEqual({ help: true });
  });
});

describe('lean-decode command line (the built CLI)', () => {
  for (const command of [GENERATE, SERVE, BENCH_DECODE]) {
    it(`${command.name} --help prints its usage with every flag, and exits 0`, () => {
      for (const args of [[command.name, '--help'], ['help', command.name]]) {
        const { status, stdout } = leanStatus(args);
        expect(status).toBe(EXIT_CODES.ok);
        expect(stdout).toContain(`usage: lean-decode ${command.name}`);
        for (const flag of Object.keys(command.flags)) expect(stdout).toMatch(new RegExp(`^  --${flag}\\b`, 'm'));
      }
    });
  }

  it('--help lists the commands', () => {
    const { status, stdout } = leanStatus(['--help']);
    expect(status).toBe(EXIT_CODES.ok);
    expect(stdout).toMatch(/^  generate .+$/m);
    expect(stdout).toMatch(/^  serve .+$/m);
    expect(stdout).toMatch(/^  bench-decode .+$/m);
  });

  const refused: [string[], RegExp][] = [
    [['generate', '--prompt', 'x', '--max-token', '3'], /\[invalid-argument\] unknown flag --max-token; did you mean --max-tokens\?/],
    [['generate', '--prompt', 'x', '--kv', 'f8'], /\[invalid-argument\] --kv must be one of f16, f32 \(got "f8"\)/],
    [['bench-decode', '--attention', 'lean,foo'], /\[invalid-argument\] --attention takes a comma-separated list of lean, fd, fa2 \(got "foo" in "lean,foo"\)/],
    [['generat', '--prompt', 'x'], /\[invalid-argument\] unknown command "generat"; did you mean generate\?/],
    [['serve', '--prot', '80'], /\[invalid-argument\] unknown flag --prot; did you mean --port\?/],
    [[], /\[invalid-argument\] a command is needed: .*generate, serve, bench-decode/],
  ];
  for (const [args, message] of refused) {
    it(`lean-decode ${args.join(' ') || '(no command)'}: a usage error, exit ${EXIT_CODES.usage}, before any GPU work`, () => {
      const { status, stdout, stderr } = leanStatus(args);
      expect(stderr).toMatch(message);
      expect(stderr).toMatch(/--help lists/);
      expect(stdout).toBe('');
      expect(status).toBe(EXIT_CODES.usage);
    });
  }
});

describe('failures keep their kind', () => {
  it('a usage error is invalid-argument, an engine error keeps its code, anything else is internal', () => {
    const usage = describeFailure(new UsageError('--kv must be one of f16, f32 (got "f8")', 'generate'));
    expect(usage).toEqual({ message: expect.stringMatching(/^lean-decode: \[invalid-argument\] --kv must be one of.*\n\(lean-decode generate --help lists its flags\)$/), exitCode: 2 });

    const engine = describeFailure(new EngineError('kv-pool-full', 'the KV cache is full'));
    expect(engine).toEqual({ message: 'lean-decode: [kv-pool-full] the KV cache is full', exitCode: 1 });
    expect(describeFailure(new EngineError('invalid-argument', 'the prompt is empty')).exitCode).toBe(1);

    const internal = describeFailure(new TypeError("Cannot read properties of undefined (reading 'grid')"));
    expect(internal.message).toMatch(/^lean-decode: \[internal\] unexpected failure: TypeError: Cannot read properties of undefined \(reading 'grid'\)/);
    expect(internal.exitCode).toBe(70);
    expect(describeFailure('thrown string')).toEqual({ message: 'lean-decode: [internal] unexpected failure: thrown string', exitCode: 70 });
    expect(new Set([EXIT_CODES.ok, EXIT_CODES.engineError, EXIT_CODES.usage, EXIT_CODES.internal]).size).toBe(4);
  });
});
