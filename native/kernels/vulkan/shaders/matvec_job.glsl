// The job table of matvec.comp and gemm.comp (one entry per weight matrix of a dispatch; mirrored by
// GpuJob in ops.cpp) and the fused epilogues. Needs common.glsl.
struct Job {
  Floats x;       // (T, x_stride)
  Uvec4s xq;      // (T, x_stride) int8, quantized types only
  Vec2s xd;       // (T, x_stride / 32)
  Uvec4s w;       // see above
  Uints ws;       // (rows, nb)
  Uints wh;       // (rows, nb)
  Floats y;       // (T, y_stride)
  Floats aux0;    // epilogue inputs, (T, y_stride) or (rows)
  Floats aux1;
  Floats aux2;
  uint rows, cols, x_stride, y_stride;
  uint wg_begin;  // first workgroup of this job in the dispatch
  uint epilogue;  // see finish()
  uint w_row_units, w_row_blocks;
  uint w_type;    // rwkv.cpp's number of w's type (0 F32, 1 F16, 9 Q8_0, ...); step7_mixed reads it per job
  uint w_pad;
};
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer Jobs { Job j[]; };

// Epilogues, fused so the result is written once: 0 y = d, 1 tanh, 2 sigmoid, 3 relu², 4 y += d,
// 5 y += d * aux0 (gated residual), 6 silu, 7 ddlerp: y = aux0 + aux1 * (aux2[row] + d).
void finish(Job jb, uint t, uint r, float d) {
  const uint yi = t * jb.y_stride + r;
  float v = d;
  switch (jb.epilogue) {
    case 1u: v = tanh(clamp(d, -15.0, 15.0)); break;  // clamp: tanh(±15) is ±1 in float, and no inf/inf
    case 2u: v = sigmoid(d); break;
    case 3u: { const float p = max(d, 0.0); v = p * p; break; }
    case 4u: v = jb.y.v[yi] + d; break;
    case 5u: v = jb.y.v[yi] + d * jb.aux0.v[yi]; break;
    case 6u: v = d * sigmoid(d); break;
    case 7u: v = jb.aux0.v[yi] + jb.aux1.v[yi] * (jb.aux2.v[r] + d); break;
  }
  jb.y.v[yi] = v;
}

