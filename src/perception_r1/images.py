"""Decoding untrusted images: one pixel limit, and every failure (decompression bombs included) as one error type.

A 388 KB PNG can declare 20000 x 20000 pixels: decoded, 1.2 GB of RGB. PIL refuses such files with
``DecompressionBombError``, which is not an ``OSError`` and so escaped the callers' handlers and stopped whole
jobs. :func:`open_image` reads the header first and refuses an image over the pixel limit *before* decoding it,
then decodes the rest; every failure is an :class:`ImageError` (both an ``OSError`` and a ``ValueError``, so that
the evaluation's and the data layer's handlers catch it) whose message says what was wrong.

The pixel limit is :data:`DEFAULT_MAX_PIXELS` (64 megapixels: 8000 x 8000, far above the benchmarks' and the
training sets' images), or the environment variable ``PERCEPTION_R1_MAX_IMAGE_PIXELS`` when set, or the
option of the command (``perception-r1 eval --max-image-pixels``, ``data.max_image_pixels`` of a training recipe).
PIL's own refusal above twice ``PIL.Image.MAX_IMAGE_PIXELS`` (179 megapixels) still applies to larger limits.

Example:
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (300, 200)).save(buffer, format="PNG")
    >>> open_image(buffer.getvalue()).size
    (300, 200)
    >>> try:
    ...     open_image(buffer.getvalue(), max_pixels=50_000)
    ... except ImageError as exc:
    ...     print(exc)
    cannot read image 254 bytes: 300x200 = 60000 pixels, over the limit of 50000 (max_image_pixels)
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_MAX_PIXELS = 64_000_000
MAX_PIXELS_ENV = "PERCEPTION_R1_MAX_IMAGE_PIXELS"


class ImageError(OSError, ValueError):
    """An image that cannot be used: missing, undecodable, truncated, or over the pixel limit.

    Attributes:
        reason: What is wrong with it.
        what: Which image (``"388871 bytes"``, a quoted path), or empty.
    """

    def __init__(self, reason: str, what: str = "") -> None:
        super().__init__(f"cannot read image {what}: {reason}" if what else reason)  # one argument: no errno
        self.reason, self.what = reason, what


def max_pixels_limit(max_pixels: int | None = None) -> tuple[int, str]:
    """The pixel limit in force and where it comes from.

    Args:
        max_pixels: An explicit limit (a command's option), or None for the environment / default.

    Returns:
        ``(limit, source)``; source is ``"max_image_pixels"`` (the option), the environment variable's name, or
        ``"default"``.

    Raises:
        ValueError: a limit below 1, or an environment value that is not a whole number.
    """
    if max_pixels is not None:
        limit, source = max_pixels, "max_image_pixels"
    elif os.environ.get(MAX_PIXELS_ENV, "").strip():
        raw = os.environ[MAX_PIXELS_ENV].strip()
        try:
            limit = int(raw.replace("_", ""))
        except ValueError:
            raise ValueError(f"{MAX_PIXELS_ENV}={raw!r}: expected a whole number of pixels") from None
        source = MAX_PIXELS_ENV
    else:
        limit, source = DEFAULT_MAX_PIXELS, "default"
    if limit < 1:
        raise ValueError(f"the image pixel limit must be >= 1, got {limit} ({source})")
    return limit, source


def check_pixels(image: Any, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageError` when a (possibly not yet decoded) PIL image has more pixels than the limit."""
    limit, source = max_pixels_limit(max_pixels)
    width, height = image.size
    if width * height > limit:
        raise ImageError(f"{width}x{height} = {width * height} pixels, over the limit of {limit} ({source})")


def open_image(source: Any, base_dir: Path | None = None, max_pixels: int | None = None) -> Any:
    """Open one image value as a fully decoded ``PIL.Image.Image`` (mode unchanged), within the pixel limit.

    Args:
        source: A PIL image (checked, returned as is), encoded bytes, a ``{"bytes", "path"}`` mapping (``datasets``'
            Image storage) or a file path.
        base_dir: Folder a relative path is resolved against.
        max_pixels: The pixel limit (None: :func:`max_pixels_limit`'s environment value or default).

    Returns:
        The decoded image.

    Raises:
        ImageError: missing file, not an image, undecodable or truncated data, or over the pixel limit.
    """
    from PIL import Image

    if isinstance(source, Image.Image):
        check_pixels(source, max_pixels)
        return source
    if isinstance(source, Mapping):
        source = source.get("bytes") or source.get("path")
    if isinstance(source, (bytearray, memoryview)):
        source = bytes(source)
    if isinstance(source, bytes):
        what, opener = f"{len(source)} bytes", lambda: Image.open(io.BytesIO(source))
    elif isinstance(source, (str, Path)) and str(source):
        path = Path(source)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        what, opener = repr(str(path)), lambda: Image.open(path)
    else:
        raise ImageError(f"not an image value ({type(source).__name__})")
    try:
        image = opener()  # reads the header only: the size is known, nothing is decoded yet
        check_pixels(image, max_pixels)
        image.load()  # decode now, so that truncated data fails here and not inside a processor or a worker
    except ImageError as exc:
        raise ImageError(exc.reason, what) from None
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        # DecompressionBombError: over PIL's own limit (twice Image.MAX_IMAGE_PIXELS), checked inside Image.open
        raise ImageError(f"{type(exc).__name__}: {exc}", what) from None
    return image


def undecoded(ds: Any) -> Any:
    """``ds`` (a ``datasets.Dataset``) whose image columns yield ``{"bytes", "path"}``, not decoded PIL images.

    ``datasets`` decodes an Image column when a row is read, outside any per-item handling: one bad image then
    stops the whole iteration. Undecoded, each image is decoded by :func:`open_image`, where it fails alone.
    """
    import datasets

    features = getattr(ds, "features", None)  # an iterable of rows without features is passed through
    for name, feature in (features or {}).items():
        if isinstance(feature, datasets.Image):
            ds = ds.cast_column(name, datasets.Image(decode=False))
        elif isinstance(getattr(feature, "feature", None), datasets.Image):
            ds = ds.cast_column(name, datasets.List(datasets.Image(decode=False)))
    return ds
