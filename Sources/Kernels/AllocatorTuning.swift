// Allocator tuning for the inference loop. Every decode step allocates and frees the same few large
// buffers (activations, expert intermediates, logits over a 129K vocabulary). glibc serves blocks above
// its mmap threshold with fresh mappings and returns them on free, so each step the kernel zeroes those
// pages again — about a seventh of decode time in a profile of the 4-layer Flash-shape model. Raising the
// threshold to its maximum and not trimming the heap keeps the pages mapped and reused.

import CKernels

public enum AllocatorTuning {
    /// Keeps blocks up to 32 MiB (glibc's largest mmap threshold on 64-bit) in the heap and the freed heap
    /// mapped. Process-wide; the executable calls it once at startup. A no-op where glibc is absent.
    public static func reuseLargeBlocks() {
        nw_reuse_large_blocks()
    }
}
