"""Many clients through the official SDKs, against `narwhal serve --replay concurrency_sdk.jsonl
--parallel 2 --queue 0` stepping at about 50 tokens/s (each answer: 200 ticks, about 4 s).

Covers: two concurrent streams decoding together, 429 in each API's shape when both slots are busy and
the queue is full, clients that disconnect mid-stream freeing their slots at once, and the metrics
that count it all.

Run: python3 concurrency_sdk.py --base-url http://127.0.0.1:PORT --api-key KEY
"""

import argparse
import threading
import time
import urllib.request

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
    claude = anthropic.Anthropic(base_url=args.base_url, api_key=args.api_key, max_retries=0)
    ask = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "Count"}], "temperature": 0}

    # Two whole answers at once: both slots, no queue.
    answers, failures = [], []

    def answer():
        try:
            choice = client.chat.completions.create(max_tokens=20, **ask).choices[0]
            answers.append((choice.message.content.split(), choice.finish_reason))
        except Exception as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check(not failures, f"concurrent requests failed: {failures}")
    check(len(answers) == 2 and all(set(words) == {"tick"} and finish == "length" for words, finish in answers),
          f"answers: {answers}")

    # Two streams hold both slots; a third request is refused in each API's shape.
    streams = [client.chat.completions.create(stream=True, **ask) for _ in range(2)]
    for stream in streams:
        check(next(iter(stream)).choices[0].delta.role == "assistant", "stream started")
    try:
        client.chat.completions.create(**ask)
        raise AssertionError("a third request was accepted with both slots busy and no queue")
    except openai.RateLimitError as error:
        check(error.status_code == 429, f"openai 429: {error}")
    try:
        claude.messages.create(model="x", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
        raise AssertionError("a third request was accepted on the Anthropic endpoint")
    except anthropic.RateLimitError as error:
        check(error.body["error"]["type"] == "rate_limit_error", f"anthropic 429: {error.body}")

    # The clients disconnect mid-stream: the slots are free again long before the answers would end.
    started = time.monotonic()
    for stream in streams:
        for _, _ in zip(range(3), stream):
            pass
        stream.close()
    while True:
        try:
            short = client.chat.completions.create(max_tokens=3, **ask)
            break
        except openai.RateLimitError:
            check(time.monotonic() - started < 2, "the slots were not freed after the disconnects")
            time.sleep(0.02)
    check(short.choices[0].finish_reason == "length", f"short answer: {short}")

    metrics = urllib.request.urlopen(args.base_url + "/metrics").read().decode()
    lines = metrics.splitlines()
    check('narwhal_requests_total{endpoint="chat_completions",status="429"}' in metrics, metrics)
    check('narwhal_requests_total{endpoint="messages",status="429"} 1' in metrics, metrics)
    check("narwhal_slots 2.0" in lines, metrics)
    check(any(line.startswith("narwhal_completion_tokens_total ") for line in lines), metrics)
    for _ in range(100):
        if "narwhal_requests_in_flight 0.0" in urllib.request.urlopen(args.base_url + "/metrics").read().decode():
            break
        time.sleep(0.02)
    else:
        raise AssertionError("requests still in flight after all clients finished")

    print("concurrency: all checks passed")


if __name__ == "__main__":
    main()
