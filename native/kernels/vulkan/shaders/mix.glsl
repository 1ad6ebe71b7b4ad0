// Token shift, shared by layer_norm.comp (one token, fused after the norm) and token_mix.comp
// (T tokens). `cur` is the normed input of token t, `prev` that of token t-1 (the shift state for t = 0).
//   mode 1 (v4, v5):     out_j = cur*m_j + prev*(1-m_j)
//   mode 2 (v6, v7):     out_j = cur + (prev-cur)*m_j
layout(push_constant) uniform PC {
  Floats x;        // layer_norm: input (rows, x_stride). token_mix: unused
  Floats w;        // (C) norm weight
  Floats b;        // (C) norm bias
  Floats ln;       // (rows, ln_stride) normed rows: written by layer_norm (flag 1), read by token_mix
  Floats mix;      // (n_mix, C) mix coefficients
  Floats mix_out;  // n_mix vectors of C per token: vector j of token t at j*mix_plane + t*out_stride
  Floats state;    // (C) token-shift state: read for token 0, replaced by the last token's normed row
  Floats sx_out;   // (T, ln_stride) prev - cur, for v6's ddlerp (flag 4)
  uint C, rows, x_stride, out_stride, ln_stride;
  uint n_mix, mode, mix_plane, flags;  // flags: 1 write ln, 2 fuse the token shift (one token per sequence), 4 write sx
  float eps;
  uint split;      // layer_norm: workgroups per row, each writing 1/split of the channels
  uint state_stride;  // flag 2 with rows > 1: each row is its own sequence (one token each), floats apart
} pc;

void write_mixes(uint t, uint i, float cur, float prev) {
  for (uint j = 0; j < pc.n_mix; ++j) {
    const float m = pc.mix.v[j * pc.C + i];
    const float o = pc.mode == 1u ? cur * m + prev * (1.0 - m) : cur + (prev - cur) * m;
    pc.mix_out.v[j * pc.mix_plane + t * pc.out_stride + i] = o;
  }
  if ((pc.flags & 4u) != 0u) pc.sx_out.v[t * pc.ln_stride + i] = prev - cur;
}
