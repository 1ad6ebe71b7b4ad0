#version 450
// The WKV-7 dispatch: see wkv7.glsl (a file of its own so that step7.comp can include it too).
#include "wkv7.glsl"
