// Dot products of four signed or unsigned bytes packed in a uint, for the 8-bit products of matvec.glsl
// (quantized weights against 8-bit activations: matvec.comp, and the persistent step's quantized jobs).
#ifndef INT_DOT_GLSL
#define INT_DOT_GLSL
#ifdef INT_DOT
// The device's own 4 x 8-bit dot products (SPV_KHR_integer_dot_product, core in Vulkan 1.3; one instruction
// where the driver calls them accelerated, e.g. IDP4A on NVIDIA), chosen by Pipelines where the device
// has them (the *_idot variants). The same exact integers as the bit extractions below: the same bits.
// Declared through GL_EXT_spirv_intrinsics: our glslc predates GL_EXT_integer_dot_product. The numbers are
// SPIR-V's: OpSDot 4450, OpSUDot 4452; capabilities DotProductInput4x8BitPacked 6018, DotProduct 6019;
// the last operand, PackedVectorFormat4x8Bit = 0.
#extension GL_EXT_spirv_intrinsics : require
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6018, 6019], id = 4450)
int spv_sdot(uint a, uint b, spirv_literal int packed_format);
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6018, 6019], id = 4452)
int spv_sudot(uint signed_bytes, uint unsigned_bytes, spirv_literal int packed_format);
int dot_ss(uint a, uint b) { return spv_sdot(a, b, 0); }
int dot_us(uint a, uint b) { return spv_sudot(b, a, 0); }
int sum_s(uint b) { return spv_sudot(b, 0x01010101u, 0); }
#else
// Sum of 4 signed-byte products (both signed).
int dot_ss(uint a, uint b) {
  return bitfieldExtract(int(a), 0, 8) * bitfieldExtract(int(b), 0, 8) +
         bitfieldExtract(int(a), 8, 8) * bitfieldExtract(int(b), 8, 8) +
         bitfieldExtract(int(a), 16, 8) * bitfieldExtract(int(b), 16, 8) +
         bitfieldExtract(int(a), 24, 8) * bitfieldExtract(int(b), 24, 8);
}
// Unsigned bytes of a times signed bytes of b.
int dot_us(uint a, uint b) {
  return int(a & 255u) * bitfieldExtract(int(b), 0, 8) + int((a >> 8) & 255u) * bitfieldExtract(int(b), 8, 8) +
         int((a >> 16) & 255u) * bitfieldExtract(int(b), 16, 8) + int(a >> 24) * bitfieldExtract(int(b), 24, 8);
}
int sum_s(uint b) {
  return bitfieldExtract(int(b), 0, 8) + bitfieldExtract(int(b), 8, 8) + bitfieldExtract(int(b), 16, 8) +
         bitfieldExtract(int(b), 24, 8);
}
#endif
// Four Q5 high bits (h & 15) moved to bit 4 of each byte (merged into four nibbles before dot_us).
uint spread4(uint h) { return ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25); }
#endif
