// Types for rwkv-node's public API. `require('rwkv-node')` is the RWKV class (CommonJS and ESM).

export type DataType = 'FP32' | 'FP16' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0';
export type QuantizedType = 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0';
export type SyntheticSize = '0.1B' | '0.4B' | '1.5B' | '2.9B' | '7B';
export type FinishReason = 'stop' | 'length' | 'abort';

export interface RWKVConfig {
  /** rwkv.cpp .bin model file */
  path: string;
  /** CPU threads (0 or omitted: one per core) */
  threads?: number;
  /** layers to run on the GPU: a count, a percentage like '50%', 'auto' (what fits), 'max', or an object */
  gpuOffload?: number | string | { layers?: number | string; device?: number; required?: boolean };
  /** Vulkan device index (default: the first discrete GPU) */
  gpuDevice?: number;
  /** completions that may run at once; more wait in a fair queue */
  concurrent?: number | 'auto';
  /** prompt tokens per sequence pass (default: the engine's choice for the model, `info.promptPassTokens`) */
  batchSize?: number;
  /** cached prompt states (LRU entries); 0 or false disables the cache */
  stateCacheSize?: number | false;
  /** byte budget of the prompt cache (0: none) */
  stateCacheBytes?: number;
  /** memory budget in bytes for concurrent: 'auto' (default: half the free memory) */
  memoryBudget?: number;
  /** a Tokenizer, 'world' | 'neox' | 'bytes', or a vocabulary file path */
  tokenizer?: Tokenizer | 'world' | 'neox' | 'bytes' | string;
}

export interface ModelInfo {
  version: '4' | '5.1' | '5.2' | '6' | '7';
  versionMajor: number;
  versionMinor: number;
  nLayer: number;
  nEmbd: number;
  nVocab: number;
  nHead: number;
  headSize: number;
  ffnSize: number;
  stateSize: number;
  dataType: DataType;
  fileBytes: number;
  params: number;
  /** bytes of weights read per decoded token */
  decodeBytes: number;
  threads: number;
  /** prompt tokens per sequence pass when `batchSize` is not set: 512 up to 1024 wide, 256 at 2048, 128 from 4096 */
  promptPassTokens: number;
  /** layers running on the GPU (0: CPU only), the device, and bytes of weights on it */
  gpuLayers: number;
  gpuDevice: string | null;
  gpuMemory: number;
  /** how a one-token step runs on the GPU: one persistent dispatch (NVIDIA, RWKV-7, float weights) or a dispatch per op */
  gpuDecode: 'persistent' | 'dispatches' | null;
  tokenizer: 'world' | 'neox' | 'bytes';
  path: string;
}

export interface EvalResult {
  logits: Float32Array;
  state: Float32Array;
}

export interface CompletionOptions {
  prompt?: string;
  /** token ids to use instead of tokenizing `prompt` */
  tokens?: number[] | Uint32Array;
  max_tokens?: number;
  maxTokens?: number;
  temperature?: number;
  top_p?: number;
  topP?: number;
  top_k?: number;
  topK?: number;
  min_p?: number;
  minP?: number;
  presence_penalty?: number;
  presencePenalty?: number;
  frequency_penalty?: number;
  frequencyPenalty?: number;
  penalty_decay?: number;
  penaltyDecay?: number;
  logit_bias?: Record<number, number> | Map<number, number>;
  logitBias?: Record<number, number> | Map<number, number>;
  bannedTokens?: number[] | Uint32Array;
  seed?: number;
  stop?: string | string[];
  stopTokens?: number[] | Uint32Array;
  streamCallback?: (chunk: string, fullCompletionSoFar: string) => void;
  onTextChunk?: (chunk: string, fullCompletionSoFar: string) => void;
  signal?: AbortSignal;
  /** true (default): resolve with the partial text on abort; false: reject with the signal's reason */
  stopOnAbortSignal?: boolean;
  initState?: Float32Array;
  returnState?: boolean;
  batchSize?: number;
  /** state mixing: each state advances on the same tokens; the next token comes from the weighted mixture */
  mix?: Array<{ state?: Float32Array | null; weight?: number }>;
  /** false: neither look up nor store this completion's states in the prefix cache */
  cache?: boolean;
  /** cache the prompt's state as a pinned entry */
  pin?: boolean;
}

export interface CompletionUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  promptTokensCached: number;
  /** prompt tokens actually evaluated (promptTokens - promptTokensCached unless aborted) */
  promptTokensEvaluated: number;
}

export interface CompletionPerf {
  queueIdleTime: number;
  promptTime: number;
  completionTime: number;
  totalTime: number;
  timePerPrompt: number;
  timePerCompletion: number;
  timePerFullPrompt: number;
  promptPerSecond: number;
  completionPerSecond: number;
  fullPromptPerSecond: number;
}

export interface CompletionResult {
  prompt: string;
  completion: string;
  finishReason: FinishReason;
  usage: CompletionUsage;
  perf: CompletionPerf;
  /** present with returnState: true */
  state?: Float32Array;
  /** with returnState: the part of `completion` the state includes (all of it unless a stop string was cut mid-token) */
  stateCompletion?: string;
  /** with returnState and mix: the final state of every mixed state */
  states?: Float32Array[];
}

export interface CompletionStream extends AsyncIterable<string> {
  /** the completion's result, once the stream has ended */
  result: Promise<CompletionResult | undefined>;
}

export declare class Tokenizer {
  static world(vocabPath: string): Tokenizer;
  static neox(jsonPath: string): Tokenizer;
  static bytes(): Tokenizer;
  static fromFile(path: string): Tokenizer;
  readonly kind: 'world' | 'neox' | 'bytes';
  readonly vocabSize: number;
  encode(text: string): Uint32Array;
  decode(ids: number[] | Uint32Array): string;
  decodeBytes(ids: number[] | Uint32Array): Uint8Array;
}

export declare class RwkvError extends Error {
  constructor(message: string, code?: string);
  code: string;
}

export interface SystemInfo {
  kernels: string;
  blas: string | null;
  openblasCoretype: string | null;
  cpus: number;
}

export declare class RWKV {
  constructor(config: string | RWKVConfig);
  readonly path: string;
  readonly threads: number;
  readonly concurrent: number | 'auto';
  /** null until setup() when not given: then `info.promptPassTokens` */
  readonly batchSize: number | null;
  setup(): Promise<this>;
  readonly info: ModelInfo;
  readonly tokenizer: Tokenizer;
  createState(): Float32Array;
  /** With `out`, results are written into those arrays (out.state may be `state` itself: in place). */
  eval(tokens: number[] | Uint32Array, state?: Float32Array | null,
       out?: { state?: Float32Array; logits?: Float32Array }): Promise<EvalResult>;
  tokenize(text: string): number[];
  detokenize(tokens: number[] | Uint32Array): string;
  completion(options: string | CompletionOptions): Promise<CompletionResult>;
  preloadPrompt(prompt: string, options?: { pin?: boolean }): Promise<void>;
  stream(options: string | CompletionOptions): CompletionStream;
  cacheStats(): { hits: number; misses: number; tokensSaved: number; entries: number; pinned: number; bytes: number };
  clearCache(): void;
  /** Batched decoding so far: passes run, sequence steps in them, milliseconds spent inside the passes. */
  batchStats(): { passes: number; steps: number; passMs: number };
  tokensEvaluated(): number;
  readonly concurrency: number;
  saveState(state: Float32Array, path: string, meta?: { tokenCount?: number; tokens?: number[] }): Promise<void>;
  loadState(path: string): Promise<{ state: Float32Array; tokenCount: number; tokens?: number[] }>;
  loadStateTuning(path: string): Promise<Float32Array>;
  activeWorkCount(): number;
  pendingWorkCount(): number;
  free(): Promise<void>;
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
  static quantize(inPath: string, outPath: string, type: QuantizedType, options?: { onProgress?: (fraction: number) => void }): Promise<void>;
  static makeSynthetic(size: SyntheticSize, outPath: string, options?: { type?: DataType; seed?: number; gguf?: string; vocab?: string; onProgress?: (fraction: number) => void }): Promise<void>;
  static systemInfo(): SystemInfo;
  static gpuDevices(): Array<{ index: number; name: string; type: string; memory: number; usable: boolean; whyNot: string }>;
  static RWKV: typeof RWKV;
  static Tokenizer: typeof Tokenizer;
  static RwkvError: typeof RwkvError;
  static createServer: typeof createServer;
  static ChatSession: typeof ChatSession;
  /** RWKV-cpp-node's low-level binding: rwkv.cpp's C API by name, served by this engine. */
  static readonly cpp_bind: RwkvCppBind;
}

export interface ServerOptions {
  /** The model id the API reports (default: the file name without its extension). */
  modelName?: string;
  /** When set, every /v1 request needs "Authorization: Bearer <apiKey>". */
  apiKey?: string;
  /** Longest chat reply when a request names no max_tokens (default 1024; /v1/completions keeps OpenAI's 16). */
  maxTokens?: number;
  /** System message for chats that bring none. */
  systemPrompt?: string;
  userName?: string;
  assistantName?: string;
  /** Allow browser pages of any origin (Access-Control-Allow-Origin: *, preflight answered). */
  cors?: boolean;
  /** Largest request body (default 4 MiB); larger ones get a 413. */
  maxBodyBytes?: number;
  /** Called once per request when its response is done or its client left. */
  onRequest?: (r: { method: string; url: string; status: number; promptTokens: number; completionTokens: number; ms: number; aborted: boolean }) => void;
}

export type ChatHistoryItem = { type: 'system' | 'user'; text: string } | { type: 'model'; response: string[] };

export interface ChatSamplingOptions {
  temperature?: number; topP?: number; topK?: number; minP?: number; presencePenalty?: number; frequencyPenalty?: number;
  penaltyDecay?: number; seed?: number; logitBias?: Record<number, number> | Map<number, number>; bannedTokens?: number[];
}

export interface ChatPromptOptions extends ChatSamplingOptions {
  maxTokens?: number;
  onTextChunk?: (chunk: string) => void;
  signal?: AbortSignal;
  /** true (default): an abort resolves with the partial reply; false: it rejects with the signal's reason. */
  stopOnAbortSignal?: boolean;
}

/** A chat in node-llama-cpp's LlamaChatSession shape; the state after each reply is kept, so a turn evaluates only its own text. */
export declare class ChatSession {
  constructor(options: { model: RWKV; systemPrompt?: string; userName?: string; assistantName?: string; maxTokens?: number } & ChatSamplingOptions);
  readonly model: RWKV;
  prompt(message: string, options?: ChatPromptOptions): Promise<string>;
  promptWithMeta(message: string, options?: ChatPromptOptions): Promise<{ response: string; metadata: { stopReason: 'stopGenerationTrigger' | 'maxTokens' | 'abort' } }>;
  getChatHistory(): ChatHistoryItem[];
  setChatHistory(history: ChatHistoryItem[]): void;
  resetChatHistory(): void;
  save(file: string): void;
  load(file: string): void;
  dispose(): void;
}

/** An rwkv.cpp context from cpp_bind: opaque, passed back to the other functions. */
export interface RwkvCppContext { readonly __rwkvCppContext: unique symbol }

/** rwkv.cpp's C API by name, synchronous (each also callable as `fn.async(...args, callback)`). */
export interface RwkvCppBindSync {
  rwkv_init_from_file(path: string, nThreads: number): RwkvCppContext | null;
  rwkv_clone_context(ctx: RwkvCppContext, nThreads: number): RwkvCppContext;
  rwkv_gpu_offload_layers(ctx: RwkvCppContext, nLayers: number): boolean;
  rwkv_get_n_vocab(ctx: RwkvCppContext): number;
  rwkv_get_n_embed(ctx: RwkvCppContext): number;
  rwkv_get_n_layer(ctx: RwkvCppContext): number;
  rwkv_get_state_len(ctx: RwkvCppContext): number;
  rwkv_get_logits_len(ctx: RwkvCppContext): number;
  rwkv_eval(ctx: RwkvCppContext, token: number, stateIn: Float32Array | null, stateOut: Float32Array, logitsOut: Float32Array | null): boolean;
  rwkv_eval_sequence(ctx: RwkvCppContext, tokens: Uint32Array | number[], sequenceLen: number, stateIn: Float32Array | null, stateOut: Float32Array, logitsOut: Float32Array | null): boolean;
  rwkv_quantize_model_file(inPath: string, outPath: string, formatName: string): boolean;
  rwkv_free(ctx: RwkvCppContext): void;
  readonly _libPath: string;
}

/** RWKV-cpp-node's `RWKV.cpp_bind`: the promise variant (rwkv_get_n_vocab stays synchronous, as there). */
export type RwkvCppBind = {
  [K in Exclude<keyof RwkvCppBindSync, 'rwkv_get_n_vocab' | '_libPath'>]: (...args: Parameters<RwkvCppBindSync[K]>) => Promise<ReturnType<RwkvCppBindSync[K]>>;
} & { rwkv_get_n_vocab(ctx: RwkvCppContext): number; readonly _libPath: string; readonly sync: RwkvCppBindSync };

/** A Node `http.Server` (not listening yet) answering OpenAI's API; the members used most are typed here. */
export interface RwkvServer {
  listen(port?: number, host?: string, callback?: () => void): this;
  close(callback?: (err?: Error) => void): this;
  address(): { address: string; family: string; port: number } | string | null;
  closeAllConnections(): void;
  on(event: string, listener: (...args: any[]) => void): this;
  /** Ends every request in flight (their completions stop within a token). */
  abortAll(): void;
  readonly modelName: string;
}

/** GET /v1/models, POST /v1/completions and POST /v1/chat/completions (whole or streamed) over a set-up model. */
export declare function createServer(model: RWKV, options?: ServerOptions): RwkvServer;

export default RWKV;
