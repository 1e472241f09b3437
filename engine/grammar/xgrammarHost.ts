import { EngineError } from '../../errors/engineError.ts';
import hostScript from './xgrammarHostScript.js?raw';
import type { GrammarTokenizerInfo } from './tokenizerInfo.ts';

/*
 * Where XGrammar runs for one tokenizer (its requests and replies: xgrammarHostScript.js). On a thread of its own
 * (a module Web Worker where the runtime has `Worker`: the engine's worker, a page; a worker_threads Worker in Node:
 * vitest, the CLI, the dist-node benchmarks), the decode loop's thread only posts a sampled token and receives the
 * next mask, so the matcher's work (~0.4 ms a token at a 128k vocabulary on the H200's host) runs beside the
 * recording of the next forward pass instead of before it. On the caller's thread, the same script answers without
 * a round trip between threads, which costs more than a small vocabulary's matcher saves. XGrammar's bundle (1.1 MB,
 * its WebAssembly inlined) is loaded on the first start, a chunk of its own that a generation without a grammar never
 * loads.
 */

/** What the script runs in, as this client uses it. */
interface HostHandle {
  post(message: unknown): void;
  /** Node: whether the thread keeps the process alive (only while a request waits for its reply). */
  keepAlive(alive: boolean): void;
  terminate(): void;
}

type Reply = { id: number; result?: unknown; error?: string };
type StartHost = (onReply: (reply: Reply) => void, onCrash: (why: string) => void) => HostHandle;
interface Waiting {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

export class XGrammarHost {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  /** Set once the host has stopped (terminated, or its thread crashed): every request then fails with it. */
  private stopped: EngineError | undefined;
  private readonly handle: HostHandle;

  private constructor(
    /** Whether XGrammar runs on a thread of its own (else on the caller's). */
    readonly ownThread: boolean,
    start: StartHost,
  ) {
    this.handle = start(
      (reply) => this.settle(reply),
      (why) => {
        this.stop(new EngineError('internal', `the grammar thread stopped: ${why}. Compile the grammar again: a new thread starts.`));
        // A Web Worker lives on after an uncaught error: end it, so that a replaced host leaves no thread behind.
        this.handle.terminate();
      },
    );
  }

  /** XGrammar with a compiler for `tokenizer`, on a thread of its own or on the caller's. */
  static async start(tokenizer: GrammarTokenizerInfo, ownThread: boolean): Promise<XGrammarHost> {
    const { default: bundle } = await import('@mlc-ai/web-xgrammar/lib/index.js?raw');
    const host = new XGrammarHost(ownThread, !ownThread ? startHere : typeof Worker === 'function' ? startWebWorker : startNodeWorker);
    try {
      await host.request('init', { bundle, tokenizer });
    } catch (error) {
      host.terminate();
      throw error;
    }
    return host;
  }

  /** False once the host has stopped: terminated, or its thread crashed. */
  get running(): boolean {
    return this.stopped === undefined;
  }

  /** Runs `op` (requests are served in the order they are made); rejects with XGrammar's error message. */
  request<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject }));
    if (this.waiting.size === 1) this.handle.keepAlive(true);
    this.handle.post({ ...args, id, op });
    return reply;
  }

  terminate(): void {
    this.stop(new EngineError('invalid-argument', 'the grammars of this model were released (the model was unloaded): compile the grammar again'));
    this.handle.terminate();
  }

  private settle(reply: Reply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.handle.keepAlive(false);
    if (reply.error !== undefined) waiting.reject(new Error(reply.error));
    else waiting.resolve(reply.result);
  }

  private stop(error: EngineError): void {
    this.stopped ??= error;
    for (const waiting of this.waiting.values()) waiting.reject(this.stopped);
    this.waiting.clear();
    this.handle.keepAlive(false);
  }
}

const startHere: StartHost = (onReply) => {
  let serve: (request: unknown) => void = () => {};
  const evaluate = new Function('listen', 'post', hostScript) as (listen: (handle: typeof serve) => void, post: (reply: Reply) => void) => void;
  evaluate((handle) => (serve = handle), onReply);
  return {
    post: (message) => serve(message),
    keepAlive: () => {},
    // Frees every grammar and matcher; its reply (to no request) is dropped.
    terminate: () => serve({ id: 0, op: 'dispose' }),
  };
};

const startWebWorker: StartHost = (onReply, onCrash) => {
  const prelude = 'const listen = (handle) => { self.onmessage = (event) => handle(event.data); };\nconst post = (message, transfer) => self.postMessage(message, transfer);\n';
  const url = URL.createObjectURL(new Blob([prelude, hostScript], { type: 'text/javascript' }));
  const worker = new Worker(url, { type: 'module', name: 'grammar' });
  worker.onmessage = (event: MessageEvent<Reply>) => {
    URL.revokeObjectURL(url);
    onReply(event.data);
  };
  worker.onerror = (event) => onCrash(event.message || 'its script failed');
  return { post: (message) => worker.postMessage(message), keepAlive: () => {}, terminate: () => worker.terminate() };
};

const startNodeWorker: StartHost = (onReply, onCrash) => {
  // process.getBuiltinModule rather than an import: the same module is bundled for the browser, which has no worker_threads.
  const { Worker: NodeWorker } = process.getBuiltinModule('node:worker_threads');
  const prelude = "const { parentPort } = require('node:worker_threads');\nconst listen = (handle) => parentPort.on('message', handle);\nconst post = (message, transfer) => parentPort.postMessage(message, transfer);\n";
  const worker = new NodeWorker(prelude + hostScript, { eval: true, name: 'grammar' });
  worker.on('message', onReply);
  worker.on('error', (error) => onCrash(error.message));
  worker.on('exit', (code) => onCrash(`it exited with code ${code}`));
  worker.unref();
  return {
    post: (message) => worker.postMessage(message),
    keepAlive: (alive) => (alive ? worker.ref() : worker.unref()),
    terminate: () => void worker.terminate(),
  };
};
