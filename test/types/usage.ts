// Compiled by `npm run test:types` (tsc --noEmit): the public API as a TypeScript user writes it.
import RWKV, { Tokenizer, RwkvError, CompletionResult, ModelInfo, createServer, RwkvServer, ChatSession, ChatHistoryItem } from 'rwkv-node';

async function main(): Promise<void> {
  const model = new RWKV({ path: 'model.bin', threads: 2, concurrent: 2, stateCacheSize: false });
  await model.setup();
  const info: ModelInfo = model.info;
  const n: number = info.stateSize;
  const { logits, state } = await model.eval([1, 2, 3]);
  const next = await model.eval(new Uint32Array([4]), state);
  const inPlace: Float32Array = (await model.eval([5], state, { state, logits: new Float32Array(logits.length) })).state;
  const f: Float32Array = next.logits;
  const controller = new AbortController();
  const r: CompletionResult = await model.completion({
    prompt: 'Hello',
    max_tokens: 10,
    temperature: 0,
    top_p: 0.5,
    stop: ['\n'],
    streamCallback: (chunk: string, full: string) => { void (chunk.length + full.length); },
    signal: controller.signal,
  });
  const reason: 'stop' | 'length' | 'abort' = r.finishReason;
  for await (const chunk of model.stream({ prompt: "Hi", maxTokens: 5 })) {
    const upper: string = chunk.toUpperCase();
    void upper;
  }
  const t: Tokenizer = Tokenizer.bytes();
  const ids: Uint32Array = t.encode('abc');
  void t.decode(ids);
  await RWKV.quantize('a.bin', 'b.bin', 'Q8_0', { onProgress: (x: number) => void x });
  const server: RwkvServer = createServer(model, { apiKey: 'k', cors: true, onRequest: (q) => void q.status });
  server.listen(8080, '127.0.0.1', () => void server.modelName);
  server.abortAll();
  void RWKV.createServer;
  const session = new ChatSession({ model, systemPrompt: 'Be brief.', temperature: 0.7 });
  const replyText: string = await session.prompt('Hi', { maxTokens: 50, onTextChunk: (c: string) => void c });
  const meta = await session.promptWithMeta('More', { signal: controller.signal });
  const why: 'stopGenerationTrigger' | 'maxTokens' | 'abort' = meta.metadata.stopReason;
  const history: ChatHistoryItem[] = session.getChatHistory();
  session.setChatHistory(history);
  void [replyText, why];
  const ctx = await RWKV.cpp_bind.rwkv_init_from_file('model.bin', 2);
  if (ctx) {
    const nv: number = RWKV.cpp_bind.rwkv_get_n_vocab(ctx);
    const st = new Float32Array(await RWKV.cpp_bind.rwkv_get_state_len(ctx));
    const ok: boolean = await RWKV.cpp_bind.rwkv_eval(ctx, 1, null, st, new Float32Array(nv));
    const ok2: boolean = RWKV.cpp_bind.sync.rwkv_eval_sequence(ctx, [1, 2], 2, st, st, null);
    void [ok, ok2];
    await RWKV.cpp_bind.rwkv_free(ctx);
  }
  const e = new RwkvError('x', 'E_IO');
  void [n, logits, f, reason, e.code];
  await model.free();
}
void main;
