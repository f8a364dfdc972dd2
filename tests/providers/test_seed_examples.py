"""The seeds' usage examples, run as written (copied verbatim from /work/shared/seeds/*.txt) in
a subprocess whose environment points the providers at the fake server; stdout is checked.

Each example gets ``import asyncio`` and the import of its provider class in front; the
fragments (top-level ``async for`` / ``await``) are put inside ``async def main()`` and run
with ``asyncio.run(main())``; the complete scripts run unchanged, except that the AI365VIP
proxy example's placeholder proxy (``http://your.proxy:8080``, "replace with your proxy")
is replaced by the fake server itself acting as the proxy.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import TEXT

REPO = Path(__file__).resolve().parents[2]
PREAMBLE = "import asyncio\nfrom providers import AiAsk, ChatAnywhere, AI365VIP, AiChats, Ylokh\n"

AIASK = '''\
messages = [{"role": "user", "content": "Напиши Hello World на Python"}]
async for chunk in AiAsk.create_async_generator(model="gpt-3.5-turbo", messages=messages):
    print(chunk, end="")
'''  # seed 000, "Примеры"

CHATANYWHERE = '''\
# Пример использования create_async_generator
messages = [{"role": "user", "content": "Hello, how are you?"}]
async for chunk in ChatAnywhere.create_async_generator(model="gpt-3.5-turbo", messages=messages):
    print(chunk, end="")
'''  # seed 001, "Примеры"

AI365VIP_SCRIPT = '''\
# Пример вызова функции
import asyncio
from typing import List, Dict, AsyncGenerator, Optional

async def main():
    model = "gpt-3.5-turbo"
    messages: List[Dict[str, str]] = [{"role": "user", "content": "Hello, how are you?"}]
    proxy: Optional[str] = None

    async def consume_generator(generator: AsyncGenerator[str, None]) -> None:
        async for chunk in generator:
            print(chunk, end="")

    generator = AI365VIP.create_async_generator(model=model, messages=messages, proxy=proxy)
    if generator:
        await consume_generator(generator)

if __name__ == "__main__":
    asyncio.run(main())
'''  # seed 002, first example

AI365VIP_PROXY_SCRIPT = '''\
# Пример вызова функции с прокси
import asyncio
from typing import List, Dict, AsyncGenerator, Optional

async def main():
    model = "gpt-3.5-turbo"
    messages: List[Dict[str, str]] = [{"role": "user", "content": "Translate to french: Hello, how are you?"}]
    proxy: Optional[str] = "http://your.proxy:8080"  # Замените на ваш прокси

    async def consume_generator(generator: AsyncGenerator[str, None]) -> None:
        async for chunk in generator:
            print(chunk, end="")

    generator = AI365VIP.create_async_generator(model=model, messages=messages, proxy=proxy)
    if generator:
        await consume_generator(generator)

if __name__ == "__main__":
    asyncio.run(main())
'''  # seed 002, second example

AICHATS_GPT4 = '''\
messages = [{"role": "user", "content": "Hello, how are you?"}]
async for response in AiChats.create_async_generator(model='gpt-4', messages=messages):
    print(response)
'''  # seed 003
AICHATS_DALLE = '''\
messages = [{"role": "user", "content": "Generate a picture of a cat."}]
async for response in AiChats.create_async_generator(model='dalle', messages=messages):
    print(response)
'''  # seed 003
AICHATS_ASYNC_GPT4 = '''\
messages = [{"role": "user", "content": "Hello, how are you?"}]
response = await AiChats.create_async(model='gpt-4', messages=messages)
print(response)
'''  # seed 003, create_async
AICHATS_ASYNC_DALLE = '''\
messages = [{"role": "user", "content": "Generate a picture of a cat."}]
response = await AiChats.create_async(model='dalle', messages=messages)
print(response)
'''  # seed 003, create_async

YLOKH_SCRIPT = '''\
# Пример использования create_async_generator
import asyncio

async def main():
    model = "gpt-3.5-turbo"
    messages = [{"role": "user", "content": "Hello, how are you?"}]
    stream = True
    proxy = None
    timeout = 120

    generator = await Ylokh.create_async_generator(
        model=model, messages=messages, stream=stream, proxy=proxy, timeout=timeout
    )

    async for message in generator:
        print(message, end="")

if __name__ == "__main__":
    asyncio.run(main())
'''  # seed 004


def fragment(code: str) -> str:
    return f"async def main():\n{textwrap.indent(code, '    ')}\nasyncio.run(main())\n"


async def run_example(code: str) -> str:
    """Run the example with ``python -W error`` and the current environment; its stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error", "-c", PREAMBLE + code, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    assert (process.returncode, stderr.decode()) == (0, "")
    return stdout.decode()


@pytest.mark.parametrize(("name", "code"), [("aiask", fragment(AIASK)),
                                            ("chatanywhere", fragment(CHATANYWHERE)),
                                            ("ai365vip", AI365VIP_SCRIPT),
                                            ("ylokh", YLOKH_SCRIPT)],
                         ids=["aiask", "chatanywhere", "ai365vip", "ylokh"])
async def test_streaming_examples_print_the_served_text(fake: FakeProviders, name: str,
                                                        code: str) -> None:
    fake.push(name, Reply(TEXT, chunk_size=3, delay=0.001))
    assert await run_example(code) == TEXT
    assert len(fake.requests_for(name)) == 1


async def test_the_proxy_example_goes_through_the_proxy(fake: FakeProviders,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI365VIP_URL", "http://127.0.0.1:9/ai365vip")  # reachable only by proxy
    fake.push("ai365vip", Reply("Bonjour, comment allez-vous ?"))
    code = AI365VIP_PROXY_SCRIPT.replace("http://your.proxy:8080", fake.origin)
    assert await run_example(code) == "Bonjour, comment allez-vous ?"
    [request] = fake.requests_for("ai365vip")
    assert request.raw_path == "http://127.0.0.1:9/ai365vip/api/chat"
    assert "Translate to french" in request.json["messages"][0]["content"]


async def test_aichats_text_examples(fake: FakeProviders) -> None:
    text = "I am fine, thank you. How can I help?"
    fake.push("aichats", Reply(text), Reply(text))
    printed = await run_example(fragment(AICHATS_GPT4))
    assert printed.replace("\n", "") == text and printed.count("\n") == len(text.split())
    assert await run_example(fragment(AICHATS_ASYNC_GPT4)) == text + "\n"


async def test_aichats_dalle_examples(fake: FakeProviders) -> None:
    printed = await run_example(fragment(AICHATS_DALLE))
    download = fake.requests_for("aichats")[-1]
    url = fake.origin + download.path
    assert download.method == "GET" and download.path.startswith("/aichats/files/")
    assert printed == ("\n<!-- generated images start -->\n"
                       f"[![Generate a picture of a cat.]({url})]({url})\n"
                       "<!-- generated images end -->\n\n\n")
    printed = await run_example(fragment(AICHATS_ASYNC_DALLE))
    assert printed == fake.origin + fake.requests_for("aichats")[-1].path + "\n"
