// SPIR-V of every shader variant, compiled by glslc at build time and embedded as uint32 words
// (generated source: cmake/shaders.cmake or tools/build-shaders.js, from shaders/variants.txt).
#pragma once
#include <cstddef>
#include <cstdint>

namespace rwkv::vk {

struct EmbeddedShader {
  const char* name;       // variant name from shaders/variants.txt, e.g. "matvec_f16"
  const uint32_t* words;  // SPIR-V
  size_t word_count;
};

extern const EmbeddedShader kEmbeddedShaders[];
extern const size_t kEmbeddedShaderCount;

}  // namespace rwkv::vk
