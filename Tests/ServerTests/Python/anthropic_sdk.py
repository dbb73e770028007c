"""The official `anthropic` SDK against `narwhal serve --replay anthropic_sdk.jsonl`.

Covers: a message with thinking and text blocks, the raw streaming event sequence, the SDK's stream
helper accumulating a message, a tool_use / tool_result round trip (with the cache read it earns),
stop_sequences, count_tokens, and the errors (wrong key, invalid value). The replay lines are used in
order, so the calls below must stay in this order.

Run: python3 anthropic_sdk.py --base-url http://127.0.0.1:PORT --api-key KEY
"""

import argparse

import anthropic


def check(condition, message):
    if not condition:
        raise AssertionError(message)


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    client = anthropic.Anthropic(base_url=args.base_url + "/anthropic", api_key=args.api_key, max_retries=0)

    # 1. A message: thinking block, text block, usage.
    message = client.messages.create(
        model="claude-opus-4-1", max_tokens=256, system="Be brief.", messages=[{"role": "user", "content": "Hi"}],
        metadata={"user_id": "test-user"})
    check([block.type for block in message.content] == ["thinking", "text"], f"blocks: {message.content}")
    check(message.content[0].thinking == "The user says hi.", f"thinking: {message.content[0]}")
    check(message.content[1].text == "Hello from the Messages API.", f"text: {message.content[1]}")
    check(message.stop_reason == "end_turn" and message.role == "assistant", f"message: {message}")
    check(message.usage.input_tokens > 0 and message.usage.output_tokens > 0, f"usage: {message.usage}")
    check(message.usage.cache_read_input_tokens == 0, f"cache: {message.usage}")

    # 2. The raw event sequence (the SDK drops the pings).
    events = list(client.messages.create(
        model="deepseek-v4-flash", max_tokens=256, messages=[{"role": "user", "content": "Stream"}], stream=True))
    types = [event.type for event in events]
    check(types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"], f"events: {types}")
    deltas = [event.delta.type for event in events if event.type == "content_block_delta"]
    check(set(deltas) == {"thinking_delta", "text_delta"}, f"deltas: {deltas}")
    text = "".join(event.delta.text for event in events if event.type == "content_block_delta"
                   and event.delta.type == "text_delta")
    check(text == "Streamed text.", f"streamed: {text!r}")
    check(events[-2].delta.stop_reason == "end_turn", f"stop: {events[-2]}")

    # 3. The SDK's stream helper accumulates the same message.
    with client.messages.stream(
            model="deepseek-v4-flash", max_tokens=256, messages=[{"role": "user", "content": "Helper"}]) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    check(streamed == "Accumulated by the SDK.", f"text_stream: {streamed!r}")
    check(final.content[0].type == "thinking" and final.content[0].thinking == "Helper stream.", f"final: {final}")
    check(final.usage.output_tokens > 0, f"usage: {final.usage}")

    # 4. Tool use round trip.
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(model="deepseek-v4-flash", max_tokens=512, tools=[WEATHER_TOOL], messages=messages)
    check(first.stop_reason == "tool_use", f"stop: {first.stop_reason}")
    tool_use = [block for block in first.content if block.type == "tool_use"][0]
    check(tool_use.name == "get_weather" and tool_use.input == {"city": "Paris"}, f"tool_use: {tool_use}")
    check(tool_use.id.startswith("toolu_"), f"id: {tool_use.id}")
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny, 24 °C"}]},
    ]
    second = client.messages.create(
        model="deepseek-v4-flash", max_tokens=512, tools=[WEATHER_TOOL], messages=messages,
        thinking={"type": "disabled"})
    check(second.content[0].text == "Sunny, 24 degrees.", f"answer: {second.content}")
    check(second.usage.cache_read_input_tokens > 0, f"the tool turn should reuse the first prompt: {second.usage}")

    # 5. Stop sequences.
    stopped = client.messages.create(
        model="deepseek-v4-flash", max_tokens=64, stop_sequences=[" Beta"], thinking={"type": "disabled"},
        messages=[{"role": "user", "content": "Count"}])
    check(stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == " Beta", f"stop: {stopped}")
    check(stopped.content[0].text == "Alpha.", f"text: {stopped.content}")

    # 6. Token counting.
    counted = client.messages.count_tokens(
        model="deepseek-v4-flash", tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "Weather in Paris?"}])
    check(counted.input_tokens == first.usage.input_tokens + first.usage.cache_read_input_tokens,
          f"count_tokens {counted.input_tokens} vs the message's prompt {first.usage}")

    # 7. Errors.
    try:
        client.messages.create(model="x", max_tokens=0, messages=[{"role": "user", "content": "Hi"}])
        raise AssertionError("max_tokens 0 was accepted")
    except anthropic.BadRequestError as error:
        check(error.body["error"]["type"] == "invalid_request_error", f"error: {error.body}")
    wrong = anthropic.Anthropic(base_url=args.base_url + "/anthropic", api_key="sk-wrong", max_retries=0)
    try:
        wrong.messages.create(model="x", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
        raise AssertionError("a wrong key was accepted")
    except anthropic.AuthenticationError as error:
        check(error.body["error"]["type"] == "authentication_error", f"auth: {error.body}")

    print("anthropic SDK: all checks passed")


if __name__ == "__main__":
    main()
