'use strict';
// GPU offload through Vulkan. In CI this runs on Mesa's software driver (lavapipe), which the engine
// only uses when RWKV_VULKAN_ALLOW_CPU=1; on a machine without any Vulkan device the offload tests skip.
process.env.RWKV_VULKAN_ALLOW_CPU = '1';
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('child_process');
const path = require('path');
const RWKV = require('..');
const { tiny } = require('./helpers');

const devices = RWKV.gpuDevices();
const usable = devices.some((d) => d.usable);
const maxAbs = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('gpuOffload is validated', () => {
  assert.throws(() => new RWKV({ path: 'x.bin', gpuOffload: '150%' }), { name: 'RangeError', message: /at most 100%/ });
  assert.throws(() => new RWKV({ path: 'x.bin', gpuOffload: 'lots' }), { name: 'TypeError', message: /gpuOffload/ });
  assert.throws(() => new RWKV({ path: 'x.bin', gpuOffload: -2 }), { name: 'RangeError' });
  assert.throws(() => new RWKV({ path: 'x.bin', gpuOffload: { required: 'yes' } }), { name: 'TypeError' });
});

// Bound: FP32/FP16 files differ only in summation order (measured ≤ 6e-6); quantized files round their
// activations to 8 bits, where a last-bit difference can flip a code (measured ≤ 0.07; the CPU's own
// two kernel sets differ by as much).
for (const stem of ['4v0-660K', '5v1-730K', '5v2-730K', '6v0-1m', '7v0-834K']) {
  for (const format of ['FP32', 'FP16', 'Q5_1']) {
    test(`${stem} ${format}: logits with all and with half the layers on the GPU match the CPU`, { skip: !usable && 'no Vulkan device' }, async () => {
      const file = tiny(`tiny-rwkv-${stem}-${format}`);
      const cpu = await new RWKV(file).setup();
      const tokens = Array.from(Buffer.from('The lighthouse keeper'));
      const ref = await cpu.eval(tokens);
      const bound = format === 'Q5_1' ? 0.15 : 1e-4;
      for (const offload of ['100%', '50%']) {
        const gpu = await new RWKV({ path: file, gpuOffload: offload }).setup();
        assert.ok(gpu.info.gpuLayers > 0 && gpu.info.gpuDevice, `nothing offloaded for ${offload}`);
        assert.strictEqual(gpu.info.gpuLayers, offload === '100%' ? gpu.info.nLayer : Math.floor(gpu.info.nLayer / 2));
        const seq = await gpu.eval(tokens);
        assert.ok(maxAbs(seq.logits, ref.logits) < bound, `${offload}: max |delta| ${maxAbs(seq.logits, ref.logits)}`);
        assert.ok(maxAbs(seq.state, ref.state) < (format === 'Q5_1' ? 0.5 : 1e-3), `${offload}: state differs`);
        // Token by token, continuing from a state read back to JS.
        let { state, logits } = await gpu.eval(tokens.slice(0, 5));
        ({ state, logits } = await gpu.eval(tokens.slice(5), state));
        assert.ok(maxAbs(logits, ref.logits) < bound);
        await gpu.free();
      }
      await cpu.free();
    });
  }
}

test('info reports the device, the layers and the GPU memory used', { skip: !usable && 'no Vulkan device' }, async () => {
  const m = await new RWKV({ path: tiny('tiny-rwkv-7v0-834K-Q5_0'), gpuOffload: 'auto' }).setup();
  assert.strictEqual(m.info.gpuLayers, m.info.nLayer);
  assert.ok(m.info.gpuMemory > 0 && m.info.gpuMemory < m.info.fileBytes * 2);
  const r = await m.completion({ prompt: 'Hello', max_tokens: 10, temperature: 0 });
  assert.strictEqual(r.usage.completionTokens, 10);
  await m.free();
});

test('info.gpuDecode, and the persistent decode step through the Node API', { skip: !usable && 'no Vulkan device' }, async () => {
  const file = tiny('tiny-rwkv-7v0-834K-FP16');
  const m = await new RWKV({ path: file, gpuOffload: '100%' }).setup();
  assert.ok(['persistent', 'dispatches'].includes(m.info.gpuDecode), m.info.gpuDecode);
  await m.free();
  const cpu = await new RWKV(file).setup();
  assert.strictEqual(cpu.info.gpuDecode, null);
  // RWKV_VK_PERSISTENT=2 runs the step where the multiprocessor count is unknown (lavapipe), on one
  // workgroup; read at load, so in a child process. Token by token it must give the CPU's logits.
  const tokens = Array.from(Buffer.from('The lighthouse'));
  let state = null, ref;
  for (const t of tokens) ({ state, logits: ref } = await cpu.eval([t], state));
  await cpu.free();
  const script = `
    const RWKV = require(${JSON.stringify(path.join(__dirname, '..'))});
    (async () => {
      const m = await new RWKV({ path: ${JSON.stringify(file)}, gpuOffload: '100%' }).setup();
      let state = null, logits;
      for (const t of ${JSON.stringify(tokens)}) ({ state, logits } = await m.eval([t], state));
      console.log(JSON.stringify({ decode: m.info.gpuDecode, logits: Array.from(logits) }));
    })();`;
  const env = { ...process.env, RWKV_VK_PERSISTENT: '2', RWKV_VULKAN_ALLOW_CPU: '1' };
  const out = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  assert.strictEqual(out.status, 0, out.stderr);
  const r = JSON.parse(out.stdout.trim().split('\n').pop());
  assert.strictEqual(r.decode, 'persistent');
  assert.ok(maxAbs(r.logits, ref) < 1e-4, `max |delta| ${maxAbs(r.logits, ref)}`);
});

test('without Vulkan the same program runs on the CPU and says so once', () => {
  const script = `
    const RWKV = require(${JSON.stringify(path.join(__dirname, '..'))});
    (async () => {
      const a = await new RWKV({ path: ${JSON.stringify(tiny('tiny-rwkv-7v0-834K-FP32'))}, gpuOffload: '100%' }).setup();
      const b = await new RWKV({ path: ${JSON.stringify(tiny('tiny-rwkv-5v2-730K-FP32'))}, gpuOffload: 'max' }).setup();
      const r = await a.eval([34, 105, 110]);
      let required = 'no error';
      try { await new RWKV({ path: ${JSON.stringify(tiny('tiny-rwkv-7v0-834K-FP32'))}, gpuOffload: { layers: 'max', required: true } }).setup(); }
      catch (e) { required = e.code; }
      process.stdout.write(JSON.stringify({ layers: a.info.gpuLayers + b.info.gpuLayers, first: r.logits[0], required }));
    })();`;
  const env = { ...process.env, RWKV_VULKAN_LOADER: '/nonexistent/libvulkan.so.1' };
  const out = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  assert.strictEqual(out.status, 0, out.stderr);
  const res = JSON.parse(out.stdout);
  assert.strictEqual(res.layers, 0);
  assert.strictEqual(res.required, 'E_DEVICE');
  const warnings = out.stderr.split('\n').filter((l) => /GPU offload unavailable, running on the CPU/.test(l));
  assert.strictEqual(warnings.length, 1, out.stderr);
  assert.match(warnings[0], /libvulkan/);
});

test('completions with GPU layers keep the state on the GPU between steps and return it exactly', { skip: !usable && 'no Vulkan device' }, async () => {
  const file = tiny('tiny-rwkv-7v0-834K-FP32');
  const cpu = await new RWKV({ path: file, stateCacheSize: 0 }).setup();
  const gpu = await new RWKV({ path: file, gpuOffload: '50%', concurrent: 3 }).setup();
  const opts = { prompt: 'The lighthouse keeper', max_tokens: 24, temperature: 0, returnState: true, stop: ['\n\n'] };
  const a = await cpu.completion(opts), b = await gpu.completion(opts);
  assert.strictEqual(b.completion, a.completion);
  assert.ok(maxAbs(b.state, a.state) < 1e-3);
  // Three at once on the GPU model: their decode steps are batched, the states stay in the GPU's batch
  // slots between steps, and each comes home when its completion ends (returned state = the CPU's).
  const prompts = ['Once upon', 'The sea', 'A river'];
  const solo = [];
  for (const p of prompts) solo.push(await cpu.completion({ prompt: p, max_tokens: 16, temperature: 0, returnState: true }));
  const together = await Promise.all(prompts.map((p) => gpu.completion({ prompt: p, max_tokens: 16, temperature: 0, returnState: true })));
  assert.deepStrictEqual(together.map((r) => r.completion), solo.map((r) => r.completion));
  for (let i = 0; i < prompts.length; i++) assert.ok(maxAbs(together[i].state, solo[i].state) < 1e-3, prompts[i]);
  // The cache got the prompt + completion state: a follow-up that extends it is served from the cache.
  const next = await gpu.completion({ prompt: opts.prompt + b.completion + ' and', max_tokens: 4, temperature: 0 });
  assert.ok(next.usage.promptTokensCached > 0);
  await cpu.free();
  await gpu.free();
});
