// lean-decode command line: generate text, or benchmark decode, on WebGPU through Dawn.
import { BENCH_DECODE_USAGE, benchDecodeCommand } from './benchDecode.ts';
import { parseFlags } from './flags.ts';
import { exitAfterFlush } from './exit.ts';
import { GENERATE_USAGE, generateCommand } from './generate.ts';

const USAGE = `usage:\n  ${GENERATE_USAGE}\n  ${BENCH_DECODE_USAGE}`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'generate') return generateCommand(parseFlags(rest));
  if (command === 'bench-decode') return benchDecodeCommand(parseFlags(rest));
  if (command === undefined || command === 'help' || command === '--help') {
    console.log(USAGE);
    return;
  }
  throw new Error(`unknown command "${command}"\n${USAGE}`);
}

main(process.argv.slice(2)).then(
  () => exitAfterFlush(0),
  (error: Error & { code?: string }) => {
    console.error(`lean-decode: ${error.code ? `[${error.code}] ` : ''}${error.message}`);
    return exitAfterFlush(1);
  },
);
