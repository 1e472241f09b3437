import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';

const SAFE_NAME = /^[\w.-]+$/;

/**
 * Serves the model folders of the directory named by $LEAN_DECODE_MODELS (e.g. ../shared/models) at /__models/:
 * `/__models/index.json` lists the folders that hold a config.json, `/__models/NAME/FILE` serves a file.
 */
export function serveModelFolders(): Plugin {
  return {
    name: 'lean-decode-model-folders',
    configureServer(server) {
      const directory = process.env.LEAN_DECODE_MODELS ? resolve(process.env.LEAN_DECODE_MODELS) : undefined;
      server.middlewares.use('/__models', (request, response, next) => {
        if (!directory || !existsSync(directory)) {
          if (request.url === '/index.json') {
            response.setHeader('content-type', 'application/json');
            response.end('[]');
            return;
          }
          return next();
        }
        const parts = decodeURIComponent((request.url ?? '').split('?')[0]).split('/').filter(Boolean);
        if (parts.length === 1 && parts[0] === 'index.json') {
          const names = readdirSync(directory).filter((name) => SAFE_NAME.test(name) && existsSync(join(directory, name, 'config.json')));
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify(names.sort()));
          return;
        }
        if (parts.length !== 2 || !parts.every((p) => SAFE_NAME.test(p))) return next();
        const file = join(directory, parts[0], parts[1]);
        if (!existsSync(file) || !statSync(file).isFile()) {
          response.statusCode = 404;
          response.end('not found');
          return;
        }
        response.setHeader('content-length', String(statSync(file).size));
        response.setHeader('content-type', 'application/octet-stream');
        if (request.method === 'HEAD') {
          response.end();
          return;
        }
        createReadStream(file).pipe(response);
      });
    },
  };
}
