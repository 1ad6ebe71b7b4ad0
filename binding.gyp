{
  "variables": {
    "rwkv_cflags": ["-O3", "-std=c++20", "-fexceptions", "-fvisibility=hidden", "-Wno-unused-parameter",
                    "-fno-trapping-math", "-fno-math-errno"]
  },
  "targets": [
    {
      "target_name": "rwkv_simd",
      "type": "static_library",
      "sources": ["<!@(node tools/gyp-sources.js --simd)"],
      "include_dirs": ["native"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(rwkv_cflags)", "-fPIC", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq",
                    "-mavx512vnni", "-mavx512bf16", "-mf16c", "-mfma", "-mavx2"]
    },
    {
      "target_name": "rwkv_simd_vbmi",
      "type": "static_library",
      "sources": ["<!@(node tools/gyp-sources.js --vbmi)"],
      "include_dirs": ["native"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(rwkv_cflags)", "-fPIC", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq",
                    "-mavx512vnni", "-mavx512bf16", "-mf16c", "-mfma", "-mavx2", "-mavx512vbmi", "-mavx512bitalg"]
    },
    {
      "target_name": "rwkv_node",
      "dependencies": ["rwkv_simd", "rwkv_simd_vbmi"],
      "sources": [
        "<!@(node tools/gyp-sources.js)",
        "native/addon/addon.cpp",
        "native/addon/errors.cpp",
        "native/addon/model_wrap.cpp",
        "native/addon/tokenizer_wrap.cpp",
        "native/addon/generate.cpp",
        "native/addon/file_tasks.cpp",
        "<(INTERMEDIATE_DIR)/shaders_embedded.cpp"
      ],
      "actions": [
        {
          "action_name": "build_shaders",
          "inputs": ["<!@(node -p \"require('fs').readdirSync('native/kernels/vulkan/shaders').map(f => 'native/kernels/vulkan/shaders/' + f).join(' ')\")"],
          "outputs": ["<(INTERMEDIATE_DIR)/shaders_embedded.cpp"],
          "action": ["node", "tools/build-shaders.js", "<(INTERMEDIATE_DIR)/shaders_embedded.cpp"]
        }
      ],
      "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(rwkv_cflags)"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
