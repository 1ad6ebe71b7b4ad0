#version 450
#extension GL_KHR_shader_subgroup_shuffle : require  // matvec.glsl: short rows
// The matvec dispatch: see matvec.glsl (a file of its own so that step7.comp can include it too).
#include "matvec.glsl"
