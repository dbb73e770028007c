"""The official `openai` SDK against `narwhal serve --replay openai_sdk.jsonl`.

Covers: model listing, a plain answer with DeepSeek's usage fields, a streamed thinking answer with
reasoning_content deltas and the usage chunk, a tool call round trip (with the prefix cache hit it
earns), the thinking-mode rule for tool turns, FIM completions, log-probabilities and the errors
(unknown model, invalid value, wrong key). The replay lines are used in order, so the calls below
must stay in this order.

Run: python3 openai_sdk.py --base-url http://127.0.0.1:PORT --api-key KEY --model-name NAME
"""

import argparse
import json

import openai


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def usage_is_consistent(usage):
    hit = usage.prompt_cache_hit_tokens
    miss = usage.prompt_cache_miss_tokens
    check(hit + miss == usage.prompt_tokens, f"hit + miss != prompt tokens: {usage}")
    check(usage.prompt_tokens_details.cached_tokens == hit, f"cached_tokens != hit: {usage}")
    check(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, f"total: {usage}")


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--model-name", required=True)
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url + "/v1", api_key=args.api_key, max_retries=0)

    ids = [m.id for m in client.models.list()]
    check(args.model_name in ids and "deepseek-v4-flash" in ids, f"models: {ids}")

    # 1. Plain, non-thinking.
    completion = client.chat.completions.create(
        model=args.model_name,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        extra_body={"thinking": {"type": "disabled"}},
    )
    choice = completion.choices[0]
    check(choice.message.content == "Hello from the replay.", f"content: {choice.message}")
    check(choice.finish_reason == "stop", f"finish: {choice.finish_reason}")
    check(getattr(choice.message, "reasoning_content", None) is None, "no reasoning in non-thinking mode")
    usage_is_consistent(completion.usage)
    check(completion.usage.completion_tokens_details.reasoning_tokens == 0, f"reasoning tokens: {completion.usage}")

    # 2. Streaming in thinking mode (the default), with the usage chunk.
    reasoning, content, usage, finish = "", "", None, None
    stream = client.chat.completions.create(
        model="deepseek-v4-flash",
        messages=[{"role": "user", "content": "Stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning += getattr(delta, "reasoning_content", None) or ""
        content += delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
    check(reasoning == "Thinking about it.", f"reasoning: {reasoning!r}")
    check(content == "Streaming works.", f"content: {content!r}")
    check(finish == "stop", f"finish: {finish}")
    check(usage is not None and usage.completion_tokens_details.reasoning_tokens > 0, f"usage: {usage}")
    usage_is_consistent(usage)

    # 3. Tool call round trip in thinking mode.
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model="deepseek-v4-flash", messages=messages, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    check(first.choices[0].finish_reason == "tool_calls", f"finish: {first.choices[0].finish_reason}")
    call = message.tool_calls[0]
    check(call.id.startswith("call_") and call.function.name == "get_weather", f"call: {call}")
    check(json.loads(call.function.arguments) == {"city": "Paris"}, f"arguments: {call.function.arguments}")
    check(message.reasoning_content == "I should call the tool.", f"reasoning: {message}")

    assistant = message.model_dump(exclude_none=True)
    result = {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"weather": "sunny"})}

    # Without the reasoning, DeepSeek's rule refuses the turn (and no replay line is used).
    stripped = {key: value for key, value in assistant.items() if key != "reasoning_content"}
    try:
        client.chat.completions.create(
            model="deepseek-v4-flash", messages=messages + [stripped, result], tools=[WEATHER_TOOL])
        raise AssertionError("a tool turn without reasoning_content was accepted")
    except openai.BadRequestError as error:
        check(error.status_code == 400 and "reasoning_content" in str(error), f"error: {error}")

    second = client.chat.completions.create(
        model="deepseek-v4-flash", messages=messages + [assistant, result], tools=[WEATHER_TOOL])
    check(second.choices[0].message.content == "It is sunny in Paris.", f"answer: {second.choices[0].message}")
    # The V4 state cannot be cut back, so the slot resumes from its snapshot one token before the end of
    # the first prompt when the re-rendered tool call differs from the generated text.
    check(second.usage.prompt_cache_hit_tokens >= first.usage.prompt_tokens - 1,
          f"the tool turn should reuse the first prompt: {first.usage} then {second.usage}")
    usage_is_consistent(second.usage)

    # 4. FIM on the completions endpoint.
    fim = client.completions.create(
        model="deepseek-v4-flash", prompt="def add(a, b):\n    ", suffix="\n\nprint(add(1, 2))", max_tokens=32)
    check(fim.choices[0].text == "return a + b", f"fim: {fim.choices[0]}")
    check(fim.usage.prompt_tokens > 0, f"usage: {fim.usage}")

    # 5. Log-probabilities.
    answer = client.chat.completions.create(
        model="deepseek-chat", messages=[{"role": "user", "content": "Sure?"}], logprobs=True, top_logprobs=3)
    entries = answer.choices[0].logprobs.content
    check("".join(entry.token for entry in entries) == "Yes, indeed.", f"logprob tokens: {entries}")
    check(all(len(entry.top_logprobs) == 3 and entry.logprob <= 0 for entry in entries), "top_logprobs")

    # 6. Errors.
    try:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        raise AssertionError("an unknown model was accepted")
    except openai.BadRequestError as error:
        check(error.status_code == 400, f"unknown model: {error}")
    try:
        client.chat.completions.create(
            model="deepseek-chat", messages=[{"role": "user", "content": "Hi"}], temperature=5)
        raise AssertionError("temperature 5 was accepted")
    except openai.UnprocessableEntityError as error:
        check(error.body["param"] == "temperature", f"invalid value: {error.body}")
    wrong = openai.OpenAI(base_url=args.base_url + "/v1", api_key="sk-wrong", max_retries=0)
    try:
        wrong.models.list()
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as error:
        check(error.status_code == 401, f"auth: {error}")

    print("openai SDK: all checks passed")


if __name__ == "__main__":
    main()
