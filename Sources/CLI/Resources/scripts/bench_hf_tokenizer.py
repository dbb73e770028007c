#!/usr/bin/env python3
"""Reference timing for `narwhal bench tokenizer`: Hugging Face `tokenizers` on the same corpus.

Loads tokenizer.json from --tokenizer-dir, encodes the UTF-8 text of --text with add_special_tokens=False
(what narwhal's encode does) --runs times in one process, writes the ids of the last run to --ids-out as
little-endian uint32, and prints one JSON object: the library version, load seconds and per-run encode
seconds. The first run is reported separately because `tokenizers` keeps a word cache between calls.
It also times one more pass that encodes the text line by line (one `encode` call per line, on one thread):
`tokenizers` is much faster on many short inputs than on one long one, so this gives its best-case speed
(those ids differ at the line breaks and are not compared).

Requires: pip install tokenizers
"""

import argparse
import array
import json
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer-dir", required=True, help="directory holding tokenizer.json")
    parser.add_argument("--text", required=True, help="UTF-8 text file to encode")
    parser.add_argument("--runs", type=int, default=3, help="number of timed encodes")
    parser.add_argument("--ids-out", required=True, help="where to write the ids (uint32, little-endian)")
    args = parser.parse_args()

    import tokenizers

    with open(args.text, "rb") as handle:
        text = handle.read().decode("utf-8")

    start = time.perf_counter()
    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(args.tokenizer_dir, "tokenizer.json"))
    load_seconds = time.perf_counter() - start

    encode_seconds = []
    ids = []
    for _ in range(max(1, args.runs)):
        start = time.perf_counter()
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        encode_seconds.append(time.perf_counter() - start)

    lines = text.splitlines(keepends=True)
    start = time.perf_counter()
    line_tokens = sum(len(tokenizer.encode(line, add_special_tokens=False).ids) for line in lines)
    lines_seconds = time.perf_counter() - start

    values = array.array("I", ids)
    if sys.byteorder != "little":
        values.byteswap()
    with open(args.ids_out, "wb") as handle:
        values.tofile(handle)

    print(json.dumps({
        "version": tokenizers.__version__,
        "load_seconds": load_seconds,
        "encode_seconds": encode_seconds,
        "tokens": len(ids),
        "lines_seconds": lines_seconds,
        "lines_tokens": line_tokens,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
