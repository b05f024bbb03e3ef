"""Untrusted images: the pixel limit, decompression bombs and broken files all end as one ImageError, fast."""

from __future__ import annotations

import io
import random
import resource
import time

import pytest
from PIL import Image

from perception_r1.images import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, ImageError, max_pixels_limit, open_image
from support.hostile import bomb_png


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def _noise_png() -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (64, 64), random.Random(0).randbytes(64 * 64 * 3)).save(buffer, format="PNG")
    return buffer.getvalue()  # incompressible: cut anywhere, the pixel data is incomplete


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_png(20000, 20000)  # 400 megapixels in ~390 KB: over PIL's own limit as well as ours


@pytest.mark.parametrize(
    ("make", "max_pixels", "match"),
    [
        (lambda bomb: bomb, None, "DecompressionBombError: Image size \\(400000000 pixels\\)"),  # PIL's own refusal
        (lambda bomb: bomb, 10**9, "DecompressionBombError"),  # a limit above PIL's own: PIL still refuses it
        (lambda bomb: bomb_png(9000, 8000), None, "9000x8000 = 72000000 pixels, over the limit of 64000000 \\(def"),
        (lambda bomb: _png(300, 200), 50_000, "300x200 = 60000 pixels, over the limit of 50000 \\(max_image_pix"),
        (lambda bomb: b"not an image", None, "cannot read image 12 bytes: UnidentifiedImageError"),  # garbage
        (lambda bomb: _noise_png()[:2000], None, "cannot read image 2000 bytes: OSError: image file is truncated"),
        (lambda bomb: "/no/such/file.png", None, "FileNotFoundError"),  # missing file
        (lambda bomb: 12, None, "not an image value \\(int\\)"),  # wrong type
        (lambda bomb: Image.new("L", (400, 300)), 100_000, "400x300 = 120000 pixels"),  # an already open image
    ],
)
def test_refused_images(bomb, make, max_pixels, match):
    with pytest.raises(ImageError, match=match) as failure:
        open_image(make(bomb), max_pixels=max_pixels)
    assert isinstance(failure.value, OSError) and isinstance(failure.value, ValueError)  # both callers catch it


@pytest.mark.parametrize(
    ("source", "size"),
    [
        (_png(300, 200), (300, 200)),  # bytes
        ({"bytes": _png(30, 20), "path": None}, (30, 20)),  # datasets' undecoded Image value
        (Image.new("RGB", (7, 5)), (7, 5)),  # a PIL image
    ],
)
def test_accepted_images(source, size):
    assert open_image(source, max_pixels=60_000).size == size


def test_relative_paths_resolve_against_base_dir(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "a.png")
    assert open_image("a.png", base_dir=tmp_path).size == (10, 10)


@pytest.mark.parametrize(
    ("env", "explicit", "expected"),
    [
        (None, None, (DEFAULT_MAX_PIXELS, "default")),  # nothing set
        ("1_000_000", None, (1_000_000, MAX_PIXELS_ENV)),  # the environment variable
        ("1000000", 500, (500, "max_image_pixels")),  # a command's option wins
    ],
)
def test_limit_sources(monkeypatch, env, explicit, expected):
    if env is None:
        monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    else:
        monkeypatch.setenv(MAX_PIXELS_ENV, env)
    assert max_pixels_limit(explicit) == expected


@pytest.mark.parametrize(
    ("env", "explicit", "match"),
    [
        ("lots", None, "expected a whole number"),  # not a number
        (None, 0, "must be >= 1"),  # no image could pass
    ],
)
def test_bad_limits(monkeypatch, env, explicit, match):
    monkeypatch.setenv(MAX_PIXELS_ENV, env or "")
    with pytest.raises(ValueError, match=match):
        max_pixels_limit(explicit)


def test_environment_limit_applies_to_open_image(monkeypatch):
    monkeypatch.setenv(MAX_PIXELS_ENV, "100")
    with pytest.raises(ImageError, match=f"over the limit of 100 \\({MAX_PIXELS_ENV}\\)"):
        open_image(_png(11, 10))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns above 89 MP; we refuse
def test_an_image_over_the_limit_is_refused_before_it_is_decoded():
    # 12000 x 12000 = 144 megapixels: under PIL's own bomb limit, so only our check stands between the file and
    # 144 MB of decoded pixels. Refused from the header: fast and without that memory.
    png = bomb_png(12000, 12000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ImageError, match="12000x12000"):
        open_image(png, max_pixels=DEFAULT_MAX_PIXELS)
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: far below 144 MB
