# Compiles the Vulkan compute shaders (native/kernels/vulkan/shaders/variants.txt) to SPIR-V with glslc
# and embeds them in the engine as a generated C++ source (shaders_embedded.cpp), linked into rwkv_engine.
# Without glslc the engine still builds: the table is empty and the Vulkan backend reports that the
# shaders are missing when asked for a GPU (the CPU path is unaffected).
set(RWKV_SHADER_DIR ${CMAKE_CURRENT_SOURCE_DIR}/native/kernels/vulkan/shaders)
set(RWKV_SHADER_OUT ${CMAKE_CURRENT_BINARY_DIR}/shaders)
set(RWKV_SHADERS_CPP ${RWKV_SHADER_OUT}/shaders_embedded.cpp)
file(MAKE_DIRECTORY ${RWKV_SHADER_OUT})
find_program(GLSLC_EXECUTABLE glslc)

file(STRINGS ${RWKV_SHADER_DIR}/variants.txt RWKV_SHADER_VARIANTS)
# A new or renamed variant changes the build's list of outputs: configure again when the file changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${RWKV_SHADER_DIR}/variants.txt)
file(GLOB RWKV_SHADER_DEPS CONFIGURE_DEPENDS ${RWKV_SHADER_DIR}/*.comp ${RWKV_SHADER_DIR}/*.glsl)
set(RWKV_SPV_FILES "")
set(RWKV_SPV_NAMES "")
if(GLSLC_EXECUTABLE)
  foreach(line IN LISTS RWKV_SHADER_VARIANTS)
    string(STRIP "${line}" line)
    if(NOT line OR line MATCHES "^#")
      continue()
    endif()
    string(REPLACE " " ";" parts "${line}")
    list(GET parts 0 name)
    list(GET parts 1 src)
    set(defines "")
    list(LENGTH parts nparts)
    if(nparts GREATER 2)
      list(SUBLIST parts 2 -1 defines)
    endif()
    set(spv ${RWKV_SHADER_OUT}/${name}.spv)
    add_custom_command(
      OUTPUT ${spv}
      COMMAND ${GLSLC_EXECUTABLE} --target-env=vulkan1.1 -O ${defines} -I ${RWKV_SHADER_DIR}
              ${RWKV_SHADER_DIR}/${src} -o ${spv}
      DEPENDS ${RWKV_SHADER_DIR}/${src} ${RWKV_SHADER_DEPS} ${RWKV_SHADER_DIR}/variants.txt
      COMMENT "glslc ${name}"
      VERBATIM)
    list(APPEND RWKV_SPV_FILES ${spv})
    list(APPEND RWKV_SPV_NAMES ${name})
  endforeach()
else()
  message(WARNING "glslc not found: the Vulkan backend is built without shaders (GPU offload will report this)")
endif()

add_custom_command(
  OUTPUT ${RWKV_SHADERS_CPP}
  COMMAND ${CMAKE_COMMAND} -DOUT=${RWKV_SHADERS_CPP} "-DNAMES=${RWKV_SPV_NAMES}" -DDIR=${RWKV_SHADER_OUT}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_spirv.cmake
  DEPENDS ${RWKV_SPV_FILES} ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_spirv.cmake
  COMMENT "embedding SPIR-V"
  VERBATIM)
