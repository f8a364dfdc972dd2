"""``python -m providers`` (the command line) and ``python -m tests.fakes.providers``, run as
subprocesses against the fake server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from providers import AiAsk
from tests.fakes.providers import FakeProviders, Reply, make_png
from tests.providers.helpers import TEXT

REPO = Path(__file__).resolve().parents[2]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


async def cli(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error", "-m", "providers", *args, env=environment(),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_list(fake: FakeProviders) -> None:
    code, out, _ = await cli("--list")
    assert code == 0
    assert out.splitlines()[:3] == ["OpenAI: gpt-4o-mini, gpt-4o, dall-e-3",
                                    "Ylokh: gpt-3.5-turbo",
                                    "AI365VIP: gpt-3.5-turbo, gpt-3.5-turbo-16k, gpt-4o"]


async def test_streams_a_reply_to_stdout(fake: FakeProviders) -> None:
    fake.push("openai", Reply(TEXT, delta_chars=4))
    code, out, err = await cli("--model", "gpt-4o", "-v", "Hello", "there")
    assert (code, out) == (0, TEXT + "\n") and "[OpenAI/gpt-4o]" in err
    assert fake.requests_for("openai")[0].json["messages"] == [
        {"role": "user", "content": "Hello there"}]


async def test_pinned_provider_system_message_and_stdin(fake: FakeProviders) -> None:
    fake.push("aiask", Reply("Pinned reply"))
    code, out, _ = await cli("-m", "aiask/gpt-3.5", "--system", "Be brief.",
                             stdin=b"Hi from stdin\n")
    assert (code, out) == (0, "Pinned reply\n")
    assert fake.requests_for("aiask")[0].json["list"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi from stdin"}]


async def test_image_saved_to_a_file(fake: FakeProviders, tmp_path: Path) -> None:
    image = make_png(5, 5)
    fake.push("aichats", Reply(image=image))
    target = tmp_path / "cat.png"
    code, out, _ = await cli("--model", "dalle", "--output", str(target), "A cat")
    assert code == 0 and f"image: image/png, {len(image)} bytes" in out
    assert target.read_bytes() == image


@pytest.mark.parametrize(("args", "message"), [
    (("--model", "gtp-4o", "Hi"), "Unknown model: 'gtp-4o'. Did you mean: gpt-4o"),
    (("--model", "AiAsk/gpt-3.5-turbo", "Hi"),
     "error: AiAsk: the provider is down (HTTP 500)"),
])
async def test_errors_go_to_stderr_with_status_1(fake: FakeProviders, args: tuple[str, ...],
                                                 message: str) -> None:
    fake.push("aiask", Reply("boom", status=500))
    code, out, err = await cli(*args)
    assert code == 1 and message in err and out.strip() == ""


async def test_the_fake_server_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error", "-m", "tests.fakes.providers", "--port", "0",
        env=environment(), stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        lines = [(await process.stdout.readline()).decode().strip() for _ in range(9)]
        env = dict(line.split("=", 1) for line in lines)
        assert env["OPENAI_API_KEY"] == "test-key" and env["AIASK_URL"].endswith("/aiask")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert "".join([chunk async for chunk in AiAsk.create_async_generator(
            "gpt-3.5-turbo", [{"role": "user", "content": "Hi"}])]) == "Hello!"
    finally:
        process.terminate()
        await process.wait()


async def test_an_endpoint_of_the_endpoints_file_is_pinned(
        fake: FakeProviders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeProviders(api_key="router-key") as router:
        router.models = ["deepseek/deepseek-r1", "openai/gpt-4o"]
        path = tmp_path / "endpoints.toml"
        path.write_text(f'[endpoints.openrouter]\nbase_url = "{router.origin}/openai/v1"\n'
                        'api_key_env = "ROUTER_KEY"\n')
        monkeypatch.setenv("ENDPOINTS_FILE", str(path))
        monkeypatch.setenv("ROUTER_KEY", "router-key")
        router.push("openai", Reply("Reasoned reply"))
        code, out, err = await cli("--model", "openrouter/deepseek/deepseek-r1", "-v", "Hi")
        assert (code, out) == (0, "Reasoned reply\n") and "[openrouter/deepseek/deepseek-r1]" in err
        assert router.requests_for("openai")[0].json["model"] == "deepseek/deepseek-r1"
        code, out, _ = await cli("--list")
        assert code == 0 and "openrouter: deepseek/deepseek-r1, openai/gpt-4o" in out.splitlines()
        path.write_text("[endpoints.openrouter]\n")
        code, out, err = await cli("--list")
        assert code == 2 and err.strip() == (
            f"error: Endpoints file {path}, line 1, [endpoints.openrouter]: base_url is required")
