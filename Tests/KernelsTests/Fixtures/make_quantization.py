"""Regenerates quantization.json: FP8 (blocks of 128 and 64) and FP4 (blocks of 32) fake-quantization
of fixed inputs, computed by the float64 NumPy reference of the forward pass (shared/reference/
dsv4_numpy.py, which matches the official fixtures). Run from this directory:

    python3 make_quantization.py PATH/TO/shared/reference
"""
import json, math, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import dsv4_numpy as S

def inputs():
    rng = np.random.default_rng(20261122)
    cases = []
    # Smooth values over many magnitudes, with exact rounding ties and saturating blocks.
    x = (rng.standard_normal(256) * np.exp2(rng.integers(-12, 12, 256))).astype(np.float32)
    cases.append(x)
    ties = np.array([1.0625, 1.1875, 0.0029296875, 3.5, 5.0, 0.75, 2.5, -1.0625] * 32, dtype=np.float32)
    cases.append(ties)
    tiny = (rng.standard_normal(256) * 1e-6).astype(np.float32)
    cases.append(tiny)
    return cases

out = []
S.QUANT["on"] = True
for x in inputs():
    x64 = x.astype(np.float64)
    out.append({
        "input": [float(v) for v in x],
        "fp8_128": [float(np.float32(v)) for v in S.fake_fp8(x64[None, :], 128)[0]],
        "fp8_64": [float(np.float32(v)) for v in S.fake_fp8(x64[None, :], 64)[0]],
        "fp4_32": [float(np.float32(v)) for v in S.fake_fp4(x64[None, :], 32)[0]],
    })
json.dump(out, open("quantization.json", "w"))
