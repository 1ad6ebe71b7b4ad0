#ifndef QUANT_ACT_GLSL
#define QUANT_ACT_GLSL
// Quantizes 32 activations to one 8-bit block, the CPU's scheme exactly (kernels/cpu/matvec_ref.cpp
// prepare_activations): d = amax/127, q = round-half-even(x/d), s = d*sum(q). Shared by quantize.comp
// (a pass of its own) and matvec.comp (one token: each workgroup quantizes its input in shared memory;
// with the LN prologue, the normed and mixed row it computed there).
void quantize_vals(float v[32], out uvec4 q0, out uvec4 q1, out vec2 ds) {
  float amax = 0.0;
  for (uint j = 0; j < 32u; ++j) amax = max(amax, abs(v[j]));
  const float d = amax / 127.0;
  const float id = d != 0.0 ? 1.0 / d : 0.0;
  int sum = 0;
  uint words[8];
  for (uint w = 0; w < 8u; ++w) {
    uint word = 0u;
    for (uint k = 0; k < 4u; ++k) {
      const int q = int(roundEven(v[w * 4u + k] * id));
      sum += q;
      word |= uint(q & 255) << (8u * k);
    }
    words[w] = word;
  }
  q0 = uvec4(words[0], words[1], words[2], words[3]);
  q1 = uvec4(words[4], words[5], words[6], words[7]);
  ds = vec2(d, d * float(sum));
}
void quantize_block(Floats src, uint at, out uvec4 q0, out uvec4 q1, out vec2 ds) {
  float v[32];
  for (uint j = 0; j < 32u; ++j) v[j] = src.v[at + j];
  quantize_vals(v, q0, q1, ds);
}
#endif
