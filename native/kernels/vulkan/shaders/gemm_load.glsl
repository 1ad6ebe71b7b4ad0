// The operands of gemm.comp's and gemm_few.comp's cooperative-matrix products: weights as FP16 (8
// consecutive weights of a row, dequantized for the quantized types; DTYPE as in matvec.comp) and the
// activations' hi / lo halves. Needs matvec_job.glsl.
// 8 consecutive weights of row `row` from column k (k % 8 == 0) as 8 halves; zero past the matrix.
uvec4 load_w8(Job jb, uint row, uint k) {
  if (row >= jb.rows || k >= jb.cols) return uvec4(0u);
#if DTYPE == 1
  return jb.w.v[row * jb.w_row_units + k / 8u];  // rows are zero-padded to whole uvec4
#else
  float v[8];
  const uint blk = k / 32u, j0 = k % 32u;
  const vec2 dm = unpackHalf2x16(jb.ws.v[row * jb.w_row_blocks + blk]);
#if DTYPE == 9
  const uvec4 q = jb.w.v[row * jb.w_row_units + blk * 2u + j0 / 16u];
  const uint w0 = (j0 % 16u) == 0u ? q.x : q.z, w1 = (j0 % 16u) == 0u ? q.y : q.w;
  [[unroll]] for (uint i = 0; i < 4u; ++i) {
    v[i] = dm.x * float(bitfieldExtract(int(w0), int(8u * i), 8));
    v[4u + i] = dm.x * float(bitfieldExtract(int(w1), int(8u * i), 8));
  }
#else
  const uvec4 q = jb.w.v[row * jb.w_row_units + blk];
  const uint b0 = j0 % 16u;  // first byte
  const uint w0 = b0 == 0u ? q.x : q.z, w1 = b0 == 0u ? q.y : q.w;
  const uint sh = j0 >= 16u ? 4u : 0u;
#if DTYPE == 7 || DTYPE == 8
  const uint h = jb.wh.v[row * jb.w_row_blocks + blk] >> j0;
#endif
  [[unroll]] for (uint i = 0; i < 8u; ++i) {
    uint qi = ((i < 4u ? w0 : w1) >> (8u * (i % 4u) + sh)) & 15u;
#if DTYPE == 7 || DTYPE == 8
    qi |= ((h >> i) & 1u) << 4;
#endif
#if DTYPE == 2
    v[i] = dm.x * float(int(qi) - 8);
#elif DTYPE == 7
    v[i] = dm.x * float(int(qi) - 16);
#else
    v[i] = dm.x * float(qi) + dm.y;
#endif
  }
#endif
  [[unroll]] for (uint i = 0; i < 8u; ++i)
    if (k + i >= jb.cols) v[i] = 0.0;
  return uvec4(packHalf2x16(vec2(v[0], v[1])), packHalf2x16(vec2(v[2], v[3])), packHalf2x16(vec2(v[4], v[5])),
               packHalf2x16(vec2(v[6], v[7])));
#endif
}

// Activations in two FP16 parts, x = hi + lo / 2^11 (F16 weights, `split`: the products then carry ~22
// bits of x). hi is x with its mantissa cut to FP16's 10 bits through the bit pattern (a float -> half ->
// float round trip may be folded back into x by a compiler, leaving lo = 0); lo, the rest scaled by 2^11
// so that it stays a normal FP16 number, goes into accumulators of its own.
vec4 x_hi(vec4 x) { return uintBitsToFloat(floatBitsToUint(x) & 0xFFFFE000u); }
vec4 x_lo(vec4 x, vec4 hi) { return (x - hi) * 2048.0; }
