import { fileURLToPath } from 'node:url';

/** The model shipped with the project (public/models/pydoc-chat-6m): the default wherever no model is named. */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL('../public/models/pydoc-chat-6m', import.meta.url));
