// See AllocatorTuning.swift (Kernels): keep large freed blocks in the heap instead of unmapping them.
#include "CKernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void nw_reuse_large_blocks(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
    mallopt(M_TRIM_THRESHOLD, 0x7FFFFFFF);
#endif
}
