// Hot elementwise loops are compiled for several vector widths and the widest the CPU has is picked
// when the addon loads (GCC function multiversioning), so one build runs on every x86-64 node of a
// cluster, whichever node built it. The build contracts no multiply-adds (-ffp-contract=off) and
// never reassociates, so every clone computes the same bits: the width changes speed, not results.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define LH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LH_CLONES
#endif
