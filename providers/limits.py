"""The bounds every read from a provider is held to: time (connect, first byte, silence between
pieces) and size (a line or SSE event, a JSON body, an image). No network here.

There is deliberately no total deadline: a model that keeps sending may take as long as it
needs; what is bounded is the wait for the reply to start and each silence after that.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.errors import N_, ProviderTimeoutError, ResponseTooLargeError
from providers.settings import ProviderSettings

BASE64_OVERHEAD = 4 / 3
"""base64 writes 4 characters for every 3 bytes."""


@dataclass(frozen=True)
class Limits:
    """Bounds for one provider request (defaults: the settings' defaults).

    Seconds: ``connect_timeout`` to open the connection (or the proxy's), ``first_byte_timeout``
    from sending the request to the first byte of the body, ``idle_timeout`` between two pieces
    of the body after that. Bytes: ``max_line_bytes`` per line or SSE event of a stream,
    ``max_json_bytes`` per JSON body, ``image_max_bytes`` per image."""

    connect_timeout: float = 10.0
    first_byte_timeout: float = 120.0
    idle_timeout: float = 60.0
    max_line_bytes: int = 1_048_576
    max_json_bytes: int = 4_194_304
    image_max_bytes: int = 10_000_000

    @classmethod
    def from_settings(cls, settings: ProviderSettings,
                      first_byte_timeout: float | None = None) -> Limits:
        """The limits of ``settings`` (``PROVIDER_*_TIMEOUT``, ``PROVIDER_MAX_*_BYTES``,
        ``IMAGE_MAX_BYTES``); ``first_byte_timeout`` (seconds) replaces the setting's when
        given (a provider's ``timeout=`` argument)."""
        return cls(connect_timeout=settings.provider_connect_timeout,
                   first_byte_timeout=first_byte_timeout or settings.provider_first_byte_timeout,
                   idle_timeout=settings.provider_idle_timeout,
                   max_line_bytes=settings.provider_max_line_bytes,
                   max_json_bytes=settings.provider_max_json_bytes,
                   image_max_bytes=settings.image_max_bytes)

    def image_json_bytes(self, images: int) -> int:
        """The bound of an image endpoint's JSON body holding ``images`` base64 images of up to
        ``image_max_bytes`` each: ``max_json_bytes`` plus their base64 size (bytes)."""
        return self.max_json_bytes + int(max(1, images) * self.image_max_bytes * BASE64_OVERHEAD)

    def first_byte_error(self) -> ProviderTimeoutError:
        """The error for a reply that did not start within ``first_byte_timeout``."""
        return ProviderTimeoutError(
            N_("The provider did not start answering within {seconds} s"),
            params={"seconds": f"{self.first_byte_timeout:g}"})

    def idle_error(self) -> ProviderTimeoutError:
        """The error for a reply that went silent for ``idle_timeout``."""
        return ProviderTimeoutError(
            N_("The provider stopped sending for {seconds} s in the middle of the reply"),
            params={"seconds": f"{self.idle_timeout:g}"})


def too_large(what: str, max_bytes: int) -> ResponseTooLargeError:
    """The error for a ``what`` (e.g. ``"image"``) past its bound of ``max_bytes`` bytes."""
    return ResponseTooLargeError(N_("The {what} is larger than {max_bytes} bytes"),
                                 params={"what": what, "max_bytes": max_bytes})
