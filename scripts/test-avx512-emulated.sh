#!/usr/bin/env bash
# Runs the test suite with every x86 kernel compiled against SIMDe (portable C implementations of the
# intrinsics) and the AVX-512 BF16 path chosen, so the model's fixture tests exercise the kernels of the
# project's target CPUs on a machine without them. Slow (a full build, and emulated vector code); not
# part of CI. Needs SIMDe's headers (Debian: libsimde-dev).
#
#   scripts/test-avx512-emulated.sh [swift test --filter pattern]   (default: the model and kernel tests)
#   NARWHAL_BF16=0 scripts/test-avx512-emulated.sh                    (AVX-512 float32 kernels instead)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
filter=${1:-"DeepSeekV4Tests|KernelsTests"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
test -f /usr/include/simde/x86/avx512.h || { echo "SIMDe headers missing: apt-get install libsimde-dev" >&2; exit 1; }

git clone -q "$repo" "$work/repo"
cd "$work/repo"
mkdir "$work/shim"
cp Tests/KernelsTests/Emulation/immintrin.h "$work/shim/"
# No target attributes (the emulated intrinsics are plain C), and the AVX-512 BF16 dispatch forced.
sed -i -E 's/__attribute__\(\(target\("[^"]*"\)\)\)//g; s/^#define (AVX512BF16|AVX512|AVX2) .*/#define \1/' Sources/CKernels/*.c
sed -i -E 's/int avx512 = nw_isa_available\("avx512"\)/int avx512 = 1/; s/bf16_dot = __builtin_cpu_supports\("avx512bf16"\) \&\& /bf16_dot = /' Sources/CKernels/MatMul.c
grep -q 'int avx512 = 1' Sources/CKernels/MatMul.c && ! grep -q 'supports("avx512bf16")' Sources/CKernels/MatMul.c ||
    { echo "could not force the AVX-512 BF16 dispatch in MatMul.c" >&2; exit 1; }
sed -i "s|\.target(name: \"CKernels\")|.target(name: \"CKernels\", cSettings: [.unsafeFlags([\"-I$work/shim\"])])|" Package.swift
grep -q "$work/shim" Package.swift || { echo "could not add the shim to Package.swift" >&2; exit 1; }

swift build --build-tests
swift test --skip-build --filter "$filter"
