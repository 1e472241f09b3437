import { EngineError } from '../../errors/engineError.ts';
import threadScript from './grammarThreadScript.js?raw';
import type { GrammarTokenizerInfo } from './tokenizerInfo.ts';

/*
 * XGrammar on a thread of its own (the script: grammarThreadScript.js), one per tokenizer: a module Web Worker
 * where the runtime has `Worker` (the engine's worker, a page), a worker_threads Worker in Node (vitest, the CLI,
 * the dist-node benchmarks). The decode loop's thread only posts a sampled token and receives the next mask, so the
 * matcher's ~0.4 ms a token (a 128k vocabulary on the H200's host) runs beside the recording of the next forward pass
 * instead of before it. XGrammar's bundle (1.1 MB, with its WebAssembly inlined) is loaded on the first start, a
 * chunk of its own that a generation without a grammar never loads, and sent to the thread as text.
 */

/** What the thread runs in, as this client uses it. */
interface ThreadHandle {
  /** Posts a request; `answered()` says whether every request so far has its reply. */
  post(message: unknown, answered: () => boolean): void;
  /** Node: whether the thread keeps the process alive (only while a request waits for its reply). */
  keepAlive(alive: boolean): void;
  terminate(): void;
}

/**
 * Node: how long the caller's thread polls for a reply, once it has finished what it did after the request (the
 * decode loop records a forward pass), before it sleeps until the event loop wakes it: on the H200's host, a
 * virtual machine, a sleeping thread wakes tens to hundreds of microseconds late, a whole step of a small model.
 */
const POLL_MS = 1;

type Reply = { id: number; result?: unknown; error?: string };
interface Waiting {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

export class GrammarThread {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  /** Set once the thread has stopped (terminated or crashed): every request then fails with it. */
  private stopped: EngineError | undefined;
  private readonly handle: ThreadHandle;

  private constructor(start: (onReply: (reply: Reply) => void, onCrash: (why: string) => void) => ThreadHandle) {
    this.handle = start(
      (reply) => this.settle(reply),
      (why) => this.stop(new EngineError('internal', `the grammar thread stopped: ${why}. Load the model again to use grammars.`)),
    );
  }

  /** A thread with XGrammar's compiler for `tokenizer`. */
  static async start(tokenizer: GrammarTokenizerInfo): Promise<GrammarThread> {
    const { default: bundle } = await import('@mlc-ai/web-xgrammar/lib/index.js?raw');
    const thread = new GrammarThread(typeof Worker === 'function' ? startWebWorker : startNodeWorker);
    try {
      await thread.request('init', { bundle, tokenizer });
    } catch (error) {
      thread.terminate();
      throw error;
    }
    return thread;
  }

  /** Runs `op` on the thread (requests are served in the order they are made); rejects with the thread's error message. */
  request<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject }));
    if (this.waiting.size === 1) this.handle.keepAlive(true);
    this.handle.post({ ...args, id, op }, () => this.waiting.size === 0);
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

function startWebWorker(onReply: (reply: Reply) => void, onCrash: (why: string) => void): ThreadHandle {
  const prelude = [
    'const listen = (handle) => { self.onmessage = (event) => handle(event.data); };',
    'const post = (message, transfer) => self.postMessage(message, transfer);',
    // A Web Worker cannot take a message but through its event loop.
    'const poll = () => undefined;',
    '',
  ].join('\n');
  const url = URL.createObjectURL(new Blob([prelude, threadScript], { type: 'text/javascript' }));
  const worker = new Worker(url, { type: 'module', name: 'grammar' });
  worker.onmessage = (event: MessageEvent<Reply>) => {
    URL.revokeObjectURL(url);
    onReply(event.data);
  };
  worker.onerror = (event) => onCrash(event.message || 'its script failed');
  return { post: (message) => worker.postMessage(message), keepAlive: () => {}, terminate: () => worker.terminate() };
}

function startNodeWorker(onReply: (reply: Reply) => void, onCrash: (why: string) => void): ThreadHandle {
  // process.getBuiltinModule rather than an import: the same module is bundled for the browser, which has no worker_threads.
  const { Worker: NodeWorker, MessageChannel, receiveMessageOnPort } = process.getBuiltinModule('node:worker_threads');
  // Requests and replies go through a channel of ours, whose ports both sides can also read without the event loop.
  const { port1: port, port2: threadPort } = new MessageChannel();
  const prelude = [
    "const { workerData, receiveMessageOnPort } = require('node:worker_threads');",
    'const listen = (handle) => workerData.port.on(\'message\', handle);',
    'const post = (message, transfer) => workerData.port.postMessage(message, transfer);',
    'const poll = () => receiveMessageOnPort(workerData.port)?.message;',
    '',
  ].join('\n');
  const worker = new NodeWorker(prelude + threadScript, { eval: true, name: 'grammar', workerData: { port: threadPort }, transferList: [threadPort] });
  port.on('message', onReply);
  port.unref();
  worker.on('error', (error) => onCrash(error.message));
  worker.on('exit', (code) => onCrash(`it exited with code ${code}`));
  worker.unref();
  // Once the caller's current task is done (setImmediate runs after it), poll for the replies for up to POLL_MS.
  const pollReplies = (answered: () => boolean) => {
    for (const until = performance.now() + POLL_MS; !answered() && performance.now() < until; ) {
      const received = receiveMessageOnPort(port);
      if (received) onReply(received.message as Reply);
    }
  };
  return {
    post: (message, answered) => {
      port.postMessage(message);
      setImmediate(pollReplies, answered);
    },
    keepAlive: (alive) => (alive ? port.ref() : port.unref()),
    terminate: () => {
      port.close();
      void worker.terminate();
    },
  };
}
