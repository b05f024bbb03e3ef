"""``perception-r1 judge check``: send one canned case to the configured judge and report what happened.

Reports reachability, latency, attempts, whether the verdicts parsed, and the verdicts against the expected
ones (agreement is informative only: a small local model judges at chance level). Exit code 0 when the judge
answered with valid verdicts, 1 when it did not, 2 for a configuration error.
"""

from __future__ import annotations

import json

import typer

from perception_r1.cli.errors import fail
from perception_r1.cli.judge_options import JudgeOptions, judge_options
from perception_r1.config import ConfigError
from perception_r1.redact import redact_obj

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("check")
@judge_options
def check(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
    *,
    judge: JudgeOptions,
) -> None:
    """Send one canned case to the judge; report reachability, latency and whether the verdicts parsed.

    The reply cache is never used (``--judge-cache-path`` is ignored): a check must reach the judge.
    """
    from perception_r1.judge.config import JudgeConfig, judge_template
    from perception_r1.judge.probe import CANNED_EXPECTED, probe_judge

    try:
        cfg = judge.build() or JudgeConfig()
        if cfg.backend != "rule":
            judge_template(cfg)  # a bad prompt file is a configuration error (exit 2), not a failed check
        judgment = probe_judge(cfg)  # never from the reply cache: a check must reach the judge
    except (ConfigError, ValueError, KeyError) as exc:
        fail(str(exc))
    report = {
        "backend": cfg.backend,
        "base_url": cfg.base_url if cfg.backend == "openai" else None,
        "model": cfg.model,
        "reachable": judgment.raw is not None or judgment.status == "ok",
        "parsed": judgment.status == "ok",
        "latency_s": round(judgment.latency_s, 3),
        "attempts": judgment.attempts,
        "verdicts": judgment.verdicts,
        "expected": CANNED_EXPECTED,
        "agreement": None
        if judgment.verdicts is None
        else sum(a == b for a, b in zip(judgment.verdicts, CANNED_EXPECTED, strict=True)) / len(CANNED_EXPECTED),
        "error": judgment.error,
        "raw_reply": (judgment.raw or "")[:500] or None,
    }
    report = redact_obj(report)  # the error and the reply are the server's text: it may quote our key back
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        for key, value in report.items():
            typer.echo(f"{key:>10}: {value}")
    raise typer.Exit(code=0 if report["parsed"] else 1)
