#version 450
// The matvec dispatch: see matvec.glsl (a file of its own so that step7.comp can include it too).
#include "matvec.glsl"
