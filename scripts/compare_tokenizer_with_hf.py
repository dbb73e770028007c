#!/usr/bin/env python3
"""Differential test of `narwhal tokenize` against Hugging Face `tokenizers` (the reference, spec section 5.1).

Modes:
  random      seeded random strings mixing ASCII, whitespace of every kind, non-ASCII digits, CJK and kana
              (including the edges of the pre-tokenizer's CJK ranges), combining marks, emoji sequences, other
              scripts, added tokens and near misses, and byte-level alphabet characters; compares encode.
  codepoints  every Unicode scalar (1,112,064 strings) in a template that exercises each pre-tokenizer
              alternative; compares encode. This sweep is how the Unicode-version rule in
              Sources/Tokenizers/CharacterClass.swift was found. Takes a few minutes.
  decode      seeded random id sequences (many not valid UTF-8, special tokens included); compares decode.

Usage (after `swift build -c release`):
  python3 scripts/compare_tokenizer_with_hf.py random --cases 200000 --seed 1
Requires: pip install tokenizers
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

POOLS = [
    list(" \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200d\ufeff"),
    list("abcXYZ'\".,;:!?-_()[]{}<>/\\|@#$%^&*+=~`"),
    list("0123456789\u0663\u06f4\u07c5\u0969\u09e6\u0a67\u0be9\u0ed2\u0f23\u1045\u17e0\u1813\uff10\xb9\xb2\xb3\xbd\u2153\u216b\u2467"),
    list("\u4e2d\u6587\u5b57\u4e00\u9fa5\u9fa6\u4e02\u3400\uf900\u3042\u3044\u3094\u3099\u309a\u309b\u309c\u309f"
         "\u30a0\u30a2\u30ff\u30fb\u30fc\u31f0\uff71\uff9e\uac00\ud7a3"),
    list("\u0301\u0308\u0327\u093f\u0e31\u20dd\u0488\ufe0f\u200c"),
    ["\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F1EF\U0001F1F5",
     "1\ufe0f\u20e3", "\U0001F9D1\u200d\U0001F4BB", "\U00020000", "\U0002A6DF", "\U000E0041", "\U0010FFFF"],
    list("\u03b1\u03b2\u03b3\u03a9\u0416\u0436\u05e9\u05dc\u05d5\u05dd\u0645\u0631\u062d\u0628\u0627\u0928\u092e"
         "\u0938\u094d\u0924\u0947\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\xc5\xe5\xc6\xf8"),
    ["<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>", "<think>", "</think>", "<\uff5cbegin\u2581of\u2581sentence\uff5c>",
     "<\uff5cend\u2581of\u2581sentence\uff5c>", "<\uff5cUser", "\uff5c>", "<|EOT|>",
     "<\uff5ctool\u2581calls\u2581begin\uff5c>", "<\uff5c/table>\uff5c", "\uff5cDSML\uff5c", "<dsml:", "</dsml:",
     "<\uff5cplace\u2581holder\u2581no\u258112\uff5c>", "<", "\uff5c"],
    ["\u0120", "\u010a", "\u0120\u0120", "\xd1\u0124", "\xe9", "e\u0301"],
]


def random_texts(seed, count):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        weights = [rng.random() for _ in POOLS]
        pieces = []
        for _ in range(rng.randint(0, 40)):
            piece = rng.choice(rng.choices(POOLS, weights)[0])
            pieces.append(piece * rng.randint(2, 5) if rng.random() < 0.15 else piece)
        texts.append("".join(pieces))
    return texts


def codepoint_texts():
    texts = []
    for value in range(0x110000):
        if 0xD800 <= value < 0xE000:
            continue
        c = chr(value)
        texts.append(f"a{c} {c}a !{c}\n{c}{c}1{c}  {c}x {c}\t{c}{c}\u0301 {c}.")
    return texts


def random_id_sequences(seed, count):
    rng = random.Random(seed)
    sequences = []
    for _ in range(count):
        ids = []
        for _ in range(rng.randint(0, 20)):
            r = rng.random()
            ids.append(rng.randrange(0, 656) if r < 0.5 else rng.randrange(0, 128000) if r < 0.8
                       else rng.randrange(128000, 129280))
        sequences.append(ids)
    return sequences


def run_narwhal(narwhal, tokenizer_dir, records, decode):
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "in.jsonl")
        with open(path, "w") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
        command = [narwhal, "tokenize", "--model", tokenizer_dir, "--jsonl", path] + (["--decode"] if decode else [])
        output = subprocess.run(command, check=True, capture_output=True).stdout.decode("utf-8")
    return [json.loads(line) for line in output.splitlines()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["random", "codepoints", "decode"])
    parser.add_argument("--cases", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--narwhal", default=".build/release/narwhal")
    parser.add_argument("--tokenizer-dir", default="Tests/TokenizersTests/Fixtures")
    args = parser.parse_args()

    import tokenizers
    reference = tokenizers.Tokenizer.from_file(os.path.join(args.tokenizer_dir, "tokenizer.json"))

    if args.mode == "decode":
        sequences = random_id_sequences(args.seed, args.cases)
        ours = [line.get("text") for line in run_narwhal(args.narwhal, args.tokenizer_dir,
                                                         [{"ids": ids} for ids in sequences], decode=True)]
        theirs = reference.decode_batch(sequences, skip_special_tokens=False)
        inputs = sequences
    else:
        texts = random_texts(args.seed, args.cases) if args.mode == "random" else codepoint_texts()
        ours = [line.get("ids") for line in run_narwhal(args.narwhal, args.tokenizer_dir,
                                                        [{"text": text} for text in texts], decode=False)]
        theirs = [encoding.ids for encoding in reference.encode_batch(texts, add_special_tokens=False)]
        inputs = texts

    mismatches = [(given, a, b) for given, a, b in zip(inputs, ours, theirs) if a != b]
    for given, a, b in mismatches[:10]:
        print(f"MISMATCH {given!r}\n  narwhal: {a}\n  HF:      {b}")
    print(f"{args.mode}: {len(inputs)} cases, {len(mismatches)} mismatches (HF tokenizers {tokenizers.__version__})")
    return 1 if mismatches or len(ours) != len(inputs) else 0


if __name__ == "__main__":
    sys.exit(main())
