// ESM entry: the same objects as the CommonJS entry.
import { createRequire } from 'module';

const require = createRequire(import.meta.url);
const RWKV = require('./index.js');

export default RWKV;
export const { Tokenizer, RwkvError, createServer, cpp_bind, ChatSession } = RWKV;
export { RWKV };
