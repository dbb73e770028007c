"""The official SDKs against `narwhal serve` on the tiny random-weight default model (`--parallel 2`).

Its answers are noise, so this checks what does not depend on them: both APIs answer through the real
model, greedy decoding is reproducible, token limits and usage figures hold, a repeated prompt comes
from the prefix cache, streams arrive in pieces, concurrent requests all complete, FIM runs.

Run: python3 real_model_sdk.py --base-url http://127.0.0.1:PORT --api-key KEY
"""

import argparse
import threading

import anthropic
import openai


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url + "/v1", api_key=args.api_key, max_retries=0)
    greedy = {
        "model": "deepseek-v4-flash", "max_tokens": 6, "temperature": 0,
        "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
        "extra_body": {"thinking": {"type": "disabled"}},
    }

    first = client.chat.completions.create(**greedy)
    check(first.choices[0].finish_reason in ("length", "stop"), f"finish: {first.choices[0]}")
    check(first.usage.completion_tokens <= 6, f"usage: {first.usage}")
    check(first.usage.prompt_cache_hit_tokens + first.usage.prompt_cache_miss_tokens == first.usage.prompt_tokens,
          f"usage: {first.usage}")
    again = client.chat.completions.create(**greedy)
    check(again.choices[0].message.content == first.choices[0].message.content, "greedy decoding is reproducible")
    check(again.usage.prompt_cache_hit_tokens >= again.usage.prompt_tokens - 1,
          f"a repeated prompt should come from the cache: {again.usage}")

    # Streaming in thinking mode (the default): reasoning and answer pieces, then the usage.
    pieces, usage = 0, None
    for chunk in client.chat.completions.create(
            model="deepseek-v4-flash", max_tokens=6, messages=[{"role": "user", "content": "Hi"}], stream=True,
            stream_options={"include_usage": True}):
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.choices and ((chunk.choices[0].delta.content or "")
                              or (getattr(chunk.choices[0].delta, "reasoning_content", None) or "")):
            pieces += 1
    check(usage is not None and 1 <= usage.completion_tokens <= 6, f"usage: {usage}")
    check(usage.completion_tokens_details.reasoning_tokens <= usage.completion_tokens, f"usage: {usage}")
    check(pieces >= 1, "no streamed pieces")

    # Three concurrent requests over two slots (the third waits in the queue).
    results, failures = [], []

    def ask(index):
        try:
            response = client.chat.completions.create(
                model="deepseek-chat", max_tokens=4, messages=[{"role": "user", "content": f"Question {index}"}])
            results.append(response.usage.completion_tokens)
        except Exception as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check(not failures and len(results) == 3, f"concurrent: {results} {failures}")

    fim = client.completions.create(model="deepseek-v4-flash", prompt="def f(x):", suffix="\n", max_tokens=4)
    check(fim.usage.completion_tokens <= 4 and fim.choices[0].finish_reason in ("length", "stop"), f"fim: {fim}")

    claude = anthropic.Anthropic(base_url=args.base_url + "/anthropic", api_key=args.api_key, max_retries=0)
    message = claude.messages.create(
        model="claude-haiku-4-5", max_tokens=4, thinking={"type": "disabled"},
        messages=[{"role": "user", "content": "Hi"}])
    check(message.stop_reason in ("max_tokens", "end_turn") and message.usage.output_tokens <= 4, f"message: {message}")

    print("real model: all checks passed")


if __name__ == "__main__":
    main()
