import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { invalidRequest, toOpenAIError, type OpenAIError } from '../engine/openai/openaiError.ts';
import type { OpenAIEngine } from '../engine/openai/openaiEngine.ts';
import { validateChatCompletionParams } from '../engine/openai/validateParams.ts';

/**
 * Every origin may call the API from a browser (the app on its own port, any OpenAI web client), as vLLM and
 * llama.cpp's server allow by default: the server holds no one's data, and it listens on localhost unless told.
 */
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-max-age': '86400',
};

/** A request body larger than this is refused (413) before it is parsed: a chat request is text. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * OpenAI's HTTP API over an OpenAIEngine, on Node's own `http`: `POST /v1/chat/completions` (JSON, or server-sent
 * events with `stream: true`: `data: {chunk}` events, then `data: [DONE]`), `GET /v1/models`, `GET /health`. Every
 * failure is an OpenAI error body with its status; a client that goes away aborts its request, queued or generating.
 * Browsers on other origins may call it (CORS).
 */
export function createChatServer(api: OpenAIEngine): Server {
  return createServer((request, response) => {
    for (const [name, value] of Object.entries(CORS_HEADERS)) response.setHeader(name, value);
    // A browser's preflight before a cross-origin POST with a JSON body or an API key.
    if (request.method === 'OPTIONS') {
      response.writeHead(204).end();
      return;
    }
    route(api, request, response).catch((error: unknown) => {
      const failure = toOpenAIError(error);
      if (failure.status >= 500) console.error(`lean-decode serve: ${request.method} ${request.url}: ${failure.message}`);
      // A client that went away (its request aborted) has no one left to read an answer.
      if (response.destroyed) return;
      if (!response.headersSent) sendError(response, failure);
      else if (!response.writableEnded) response.end();
    });
  });
}

async function route(api: OpenAIEngine, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
  const routes: Record<string, Partial<Record<string, () => Promise<void> | void>>> = {
    '/v1/chat/completions': { POST: () => chatCompletions(api, request, response) },
    '/v1/models': { GET: () => sendJson(response, 200, api.models.list()) },
    '/health': { GET: () => sendJson(response, 200, { status: 'ok', model: api.chat.completions.model, queued: api.chat.completions.queued }) },
  };
  const methods = routes[path];
  if (!methods) throw invalidRequest(`Unknown request URL: ${request.method} ${path}: lean-decode serves POST /v1/chat/completions, GET /v1/models and GET /health`, null, 'unknown_url', 404);
  const handler = methods[request.method ?? ''];
  if (!handler) {
    response.setHeader('allow', Object.keys(methods).join(', '));
    throw invalidRequest(`${path} takes ${Object.keys(methods).join(', ')}, not ${request.method}`, null, 'method_not_allowed', 405);
  }
  await handler();
}

async function chatCompletions(api: OpenAIEngine, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const params = validateChatCompletionParams(parseJson(await readBody(request)));
  // The client's connection closing before the answer is complete aborts the request and frees its KV pages.
  const abort = new AbortController();
  response.on('close', () => {
    if (!response.writableFinished) abort.abort();
  });
  if (!params.stream) {
    sendJson(response, 200, await api.chat.completions.create(params, { signal: abort.signal }));
    return;
  }
  // Errors up to the prefill (the prompt too long, ...) still get their status; after the headers they are an event.
  const chunks = await api.chat.completions.create(params, { signal: abort.signal });
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  try {
    for await (const chunk of chunks) {
      if (abort.signal.aborted) break;
      response.write(`data: ${JSON.stringify(chunk)}\n\n`);
    }
    response.end('data: [DONE]\n\n');
  } catch (error) {
    if (abort.signal.aborted) return;
    // As OpenAI ends a stream that fails midway: one event with the error body, which its clients raise.
    response.end(`data: ${JSON.stringify(toOpenAIError(error).body())}\n\n`);
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let bytes = 0;
    request.on('data', (part: Buffer) => {
      bytes += part.length;
      if (bytes <= MAX_BODY_BYTES) parts.push(part);
    });
    request.on('end', () => {
      if (bytes > MAX_BODY_BYTES) reject(invalidRequest(`the request body is ${bytes} bytes, over the ${MAX_BODY_BYTES} this server reads`, null, 'request_too_large', 413));
      else resolve(Buffer.concat(parts).toString('utf8'));
    });
    request.on('error', reject);
    // Closed before its end: the client went away mid-body (after the end this changes nothing).
    request.on('close', () => reject(invalidRequest('the client closed the connection before the request body ended', null, 'request_aborted')));
  });
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalidRequest(`the request body is not valid JSON (${reason}): send a JSON object of Chat Completions parameters`, null, 'invalid_json');
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, error: OpenAIError): void {
  sendJson(response, error.status, error.body());
}
