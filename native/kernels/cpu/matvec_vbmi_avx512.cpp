// The AVX-512 kernel set once more, built with VBMI and BITALG as well (Ice Lake, Sapphire Rapids, Zen 4
// and newer; not Cascade Lake): the same kernels, except that one-token and small-batch products unpack a
// quad of Q4_0/Q4_1/Q5_0/Q5_1 blocks from two loads with byte permutes and bit shuffles (unpack_quad in
// matvec_avx512.cpp) instead of eight narrow loads, shifts and mask moves. Same quants, same ops after
// them: the same bits as the "avx512-vnni" set (test_kernels.cpp checks). kernel_select.cpp picks it where
// the CPU has both extensions.
#define RWKV_QUAD_PERMUTE 1
#define RWKV_KERNEL_SET_FN avx512_vbmi_kernels
#define RWKV_KERNEL_SET_NAME "avx512-vbmi"
#include "kernels/cpu/matvec_avx512.cpp"
