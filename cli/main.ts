// lean-decode command line: generate text, serve the OpenAI API, or benchmark decode, on WebGPU through Dawn.
import { BENCH_DECODE, benchDecodeCommand } from './benchDecode.ts';
import { describeFailure, EXIT_CODES, exitAfterFlush } from './exit.ts';
import { closest, commandHelp, parseCommandLine, UsageError, type CommandSpec, type FlagTable, type FlagValues } from './flags.ts';
import { GENERATE, generateCommand } from './generate.ts';
import { SERVE, serveCommand } from './serve.ts';

interface Command {
  spec: CommandSpec;
  run(argv: readonly string[]): Promise<void>;
}

function command<T extends FlagTable>(spec: CommandSpec<T>, run: (flags: FlagValues<T>) => Promise<void>): Command {
  return {
    spec,
    async run(argv) {
      const parsed = parseCommandLine(spec, argv);
      if (parsed.help) console.log(commandHelp(spec));
      else await run(parsed.flags);
    },
  };
}

const COMMANDS: Command[] = [command(GENERATE, generateCommand), command(SERVE, serveCommand), command(BENCH_DECODE, benchDecodeCommand)];

const USAGE = `usage: lean-decode COMMAND [flags]

commands:
${COMMANDS.map(({ spec }) => `  ${spec.name.padEnd(14)}${spec.summary}`).join('\n')}

lean-decode COMMAND --help shows a command's flags.`;

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    console.log(USAGE);
    return;
  }
  // `lean-decode help generate` is `lean-decode generate --help`.
  const [commandName, commandArgv] = name === 'help' ? [rest[0], ['--help']] : [name, rest];
  if (commandName === undefined) throw new UsageError(`a command is needed: lean-decode COMMAND [flags], COMMAND one of ${COMMANDS.map(({ spec }) => spec.name).join(', ')}`);
  const found = COMMANDS.find(({ spec }) => spec.name === commandName);
  if (!found) {
    const names = COMMANDS.map(({ spec }) => spec.name);
    const suggestion = closest(commandName, names);
    throw new UsageError(`unknown command "${commandName}"${suggestion ? `; did you mean ${suggestion}?` : ''} (commands: ${names.join(', ')})`);
  }
  return found.run(commandArgv);
}

main(process.argv.slice(2)).then(
  () => exitAfterFlush(EXIT_CODES.ok),
  (error: unknown) => {
    const failure = describeFailure(error);
    console.error(failure.message);
    return exitAfterFlush(failure.exitCode);
  },
);
