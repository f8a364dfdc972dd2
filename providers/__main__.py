"""Try a provider without Telegram.

    python -m providers --list
    python -m providers --model gpt-4o "Hello"             # streams the reply to stdout
    python -m providers --model AiAsk/gpt-3.5-turbo "Hi"   # pin one provider
    python -m providers --model openrouter/deepseek/deepseek-r1 "Hi"   # pin an endpoint
    python -m providers --model dalle --output cat.png "A cat"
    echo "Hello" | python -m providers

Settings come from the environment (``providers.settings``), the endpoints from
``ENDPOINTS_FILE`` too; every endpoint's model list (``GET /models``) is asked first (a failed
one is a log line on stderr and keeps the configured list). Exit status: 0 on success, 1
when the model is unknown, every provider failed, or the reply was cut short or failed midway
(the error goes to stderr, each provider's failure with its details as a log line), 2 for bad
arguments (argparse) or a bad endpoints file (one line).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from contextlib import aclosing

from providers.base import ImageResponse, Messages
from providers.endpoints import EndpointConfigError
from providers.errors import ProviderError
from providers.registry import ModelRegistry, default_registry


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m providers", description=__doc__.split("\n")[0])
    parser.add_argument("prompt", nargs="*", help="the message (default: read stdin)")
    parser.add_argument("-m", "--model", default="gpt-3.5-turbo",
                        help="model id, alias, Provider/model or endpoint/model "
                             "(default: %(default)s)")
    parser.add_argument("-l", "--list", action="store_true", help="list providers and models")
    parser.add_argument("-s", "--system", help="a system message to put first")
    parser.add_argument("-o", "--output", help="save a generated image to this file")
    parser.add_argument("--no-stream", action="store_true", help="ask for the whole reply at once")
    parser.add_argument("--timeout", type=float,
                        help="seconds to wait for the reply to start (PROVIDER_FIRST_BYTE_TIMEOUT)")
    parser.add_argument("--proxy", help="proxy URL (PROXY_URL)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="say on stderr which provider answered")
    return parser.parse_args(argv)


def list_models(registry: ModelRegistry) -> None:
    asyncio.run(registry.refresh())
    for provider, models in registry.models().items():
        print(f"{provider}: {', '.join(models)}")


async def run(registry: ModelRegistry, args: argparse.Namespace, prompt: str) -> int:
    messages: Messages = [{"role": "user", "content": prompt}]
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    kwargs = {"timeout": args.timeout, "proxy": args.proxy}
    if args.no_stream:
        kwargs["stream"] = False
    await registry.refresh()
    try:
        routes = registry.resolve(args.model)
        answered = ""
        async with aclosing(registry.stream_routes(routes, messages, **kwargs)) as chunks:
            async for route, chunk in chunks:
                answered = route.name
                if isinstance(chunk, ImageResponse):
                    describe_image(chunk, args.output)
                elif isinstance(chunk, str):  # Reasoning and Usage are not the answer
                    sys.stdout.write(chunk)
                    sys.stdout.flush()
        if args.verbose:
            print(f"\n[{answered}]", file=sys.stderr)
    except ProviderError as error:
        print(f"\nerror: {error.user_text()}", file=sys.stderr)
        return 1
    print()
    return 0


def describe_image(image: ImageResponse, output: str | None) -> None:
    print(f"image: {image.mime_type}, {len(image.data)} bytes, alt {image.alt!r}")
    for url in image.urls:
        print(f"url: {url}")
    if output:
        with open(output, "wb") as file:
            file.write(image.data)
        print(f"saved: {output}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        registry = default_registry()
    except EndpointConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.list:
        list_models(registry)
        return 0
    prompt = " ".join(args.prompt) or ("" if sys.stdin.isatty() else sys.stdin.read().strip())
    if not prompt:
        print("error: no prompt (give it as arguments or on stdin)", file=sys.stderr)
        return 2
    return asyncio.run(run(registry, args, prompt))


if __name__ == "__main__":
    sys.exit(main())
