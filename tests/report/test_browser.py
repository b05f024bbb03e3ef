"""The report in a real headless Chromium: rendered numbers, verdict colours, working filters, a screenshot, and
no console error. A probe script, appended to a copy of the page, drives the filter controls like a reader would
and writes what it saw into the DOM, which Chromium dumps."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from perception_r1.report import write_report
from perception_r1.report.browser import find_chromium, load_page

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="Chromium is not installed (scripts/setup.sh installs Debian's `chromium` when run as root with "
        "apt-get; or point $CHROMIUM at a Chrome/Chromium binary)",
    ),
]

# The verdict colours of assets/report.css: green accepted, red rejected, amber judge failed.
ACCEPTED, REJECTED, FAILED = (26, 127, 55), (207, 34, 46), (154, 103, 0)

PROBE = """<script>
(function () {
  var out = {};
  function count(kind) {
    var node = document.getElementById(kind + "-count");
    return node ? Number(node.getAttribute("data-matching")) : null;
  }
  function colour(selector) {
    var node = document.querySelector(selector);
    return node ? getComputedStyle(node).backgroundColor : null;
  }
  function texts(selector) {
    return Array.prototype.map.call(document.querySelectorAll(selector), function (n) { return n.textContent; });
  }
  function groups() {
    return Array.prototype.map.call(document.querySelectorAll("#rollouts-list .group"), function (g) {
      return [Number(g.getAttribute("data-run")), g.getAttribute("data-problem")];
    });
  }
  var form = document.getElementById("rollouts-filters");
  function set(name, value) {
    var input = form.elements[name];
    if (input.type === "checkbox") input.checked = value; else input.value = value;
    input.dispatchEvent(new Event(input.type === "checkbox" ? "change" : "input", { bubbles: true }));
  }
  var steps = [
    function () {
      out.initial = count("rollouts");
      out.items = count("items");
      out.totals = texts("#rollouts-list .scores .total").slice(0, 3);
      out.colours = {
        accepted: colour("#rollouts-list .fact-accepted"), rejected: colour("#rollouts-list .fact-rejected"),
        failed: colour("#rollouts .note .fact-failed"), right: colour("#items-list .verdict-right"),
        wrong: colour("#items-list .verdict-wrong"), error: colour("#items-list .verdict-error")
      };
      out.judgeFailed = texts("#rollouts-list .judge-failed").slice(0, 1);
      set("failed", true);
    },
    function () {
      out.failed = count("rollouts");
      out.failedJudges = Array.from(new Set(Array.prototype.map.call(
        document.querySelectorAll("#rollouts-list .rollout"), function (n) { return n.getAttribute("data-judge"); })));
      out.hash = location.hash;
      set("failed", false);
      set("q", "ANSWER 4-1");
    },
    function () {
      out.search = count("rollouts");
      set("q", "");
      set("rmin", "0.4");
    },
    function () {
      out.reward = count("rollouts");
      set("rmin", "");
      set("smin", "4");
    },
    function () {
      out.step = count("rollouts");
      set("smin", "");
    },
    function () {
      document.querySelector("#rollouts-list .pid").click();
      out.problem = groups();
      out.problemCount = count("rollouts");
    }
  ];
  var i = 0;
  function next() {
    steps[i++]();
    if (i < steps.length) { setTimeout(next, 400); return; }
    var pre = document.createElement("pre");
    pre.id = "probe";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  window.addEventListener("load", function () { setTimeout(next, 0); });
})();
</script>"""


def probed(page: Path) -> Path:
    """A copy of ``page`` with the probe script after the page's own script."""
    copy = page.with_name("probed-" + page.name)
    copy.write_text(page.read_text().replace("</body></html>", PROBE + "</body></html>"))
    return copy


def probe_result(dom: str) -> dict:
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, "the probe did not finish (a script error stopped it?)"
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def root_tag(dom: str) -> str:
    """The ``<html ...>`` start tag: the page script marks it ``data-ready`` / ``data-js-errors``."""
    return re.search(r"<html[^>]*>", dom).group(0)


def rgb(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", text)[:3])


@pytest.fixture
def page(tmp_path, train_run, eval_run) -> Path:
    return write_report([train_run("a"), train_run("b", offset=0.5), eval_run("ev")], tmp_path / "report.html")


def test_rendered_numbers_colours_and_filters(page):
    result = load_page(probed(page), budget_ms=10_000)
    assert result.console == []  # no console message of any kind: errors, warnings or stray logs
    assert 'data-ready="1"' in root_tag(result.dom) and "data-js-errors" not in root_tag(result.dom)
    got = probe_result(result.dom)
    # 2 runs x 2 logged steps x 2 prompts x 3 completions; 5 evaluation items
    assert (got["initial"], got["items"]) == (24, 5)
    # weighted totals: failed judgment -> format only (1 * 0.1); otherwise 0.1 + 0.7 * 0.5
    assert got["totals"] == ["total 0.1", "total 0.45", "total 0.45"]
    assert got["judgeFailed"] == ["judge failed: judge timed out after 3 attempts"]
    colours = {k: rgb(v) for k, v in got["colours"].items()}
    # the "judge failed" colour from the legend: these runs' failures are whole judgments, not single facts
    assert colours == {"accepted": ACCEPTED, "rejected": REJECTED, "failed": FAILED,
                       "right": ACCEPTED, "wrong": REJECTED, "error": FAILED}  # fmt: skip
    # filters, driven through the form controls
    assert got["failed"] == 8 and got["failedJudges"] == ["failed"]  # one failed judgment per group
    assert got["hash"] == "#rollouts.failed=1"  # the view is shareable
    assert got["search"] == 6  # case-insensitive: "answer 4-1-k" in both runs
    assert got["reward"] == 16  # totals >= 0.4: the judged completions
    assert got["step"] == 12  # step >= 4
    # one problem across runs: the first group's prompt, in both runs and both steps
    assert got["problemCount"] == 12
    assert {run for run, _ in got["problem"]} == {0, 1} and len({p for _, p in got["problem"]}) == 1


def test_rendered_tables_and_charts(page):
    dom = load_page(page).dom
    assert re.search(r'data-metric="reward".*?a: <b class="last"[^>]*>0.5</b>.*?b: <b class="last"[^>]*>1</b>', dom,
                     re.S)  # fmt: skip
    assert '<span class="figure">75.0</span>' in dom
    # 8 groups of 3 rollouts (run x step x prompt); one group per item
    assert dom.count('class="group"') == 8 and dom.count('class="group item"') == 5


def test_filter_state_from_the_url(page):
    result = load_page(page, fragment="rollouts.failed=1&rollouts.run=1&items.verdict=wrong")
    assert result.console == []
    assert re.search(r'id="rollouts-count" data-matching="4"', result.dom)
    assert re.search(r'id="items-count" data-matching="1"', result.dom)


def test_screenshot_shows_the_verdict_colours(page, tmp_path):
    from PIL import Image

    target = Path(os.environ.get("REPORT_SCREENSHOT_DIR", tmp_path)) / "report.png"
    result = load_page(page, screenshot=target, window=(1280, 4200))
    assert result.console == []
    image = Image.open(result.screenshot).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20)}
    assert {ACCEPTED, REJECTED, FAILED} <= colours  # the chips are on screen, in their colours


def test_phone_width_renders_without_errors(page, tmp_path):
    result = load_page(page, screenshot=tmp_path / "phone.png", window=(390, 844))
    assert result.console == [] and 'data-ready="1"' in root_tag(result.dom)


def test_damaged_and_unfinished_runs_open(tmp_path, train_run, files):
    broken = train_run("broken")
    (broken / "samples.jsonl").write_text('garbage\n{"step": 1, "prompt": "p", "completion": "c"}\n{"step": 2, "co')
    (broken / "summary.json").write_text("{")
    (broken / "metrics.jsonl").unlink()
    out = write_report([broken, tmp_path / "missing"], tmp_path / "r.html")
    result = load_page(out)
    assert result.console == [] and 'data-ready="1"' in root_tag(result.dom)
    assert "folder missing" in result.dom and "damaged files" in result.dom and "still being written" in result.dom
    assert re.search(r'id="rollouts-count" data-matching="1"', result.dom)  # the readable row is listed


def test_a_script_error_is_caught(page):
    # the harness itself: a broken data block must surface as a console error and on the page
    damaged = page.with_name("damaged.html")
    damaged.write_text(page.read_text().replace('id="report-data">{', 'id="report-data">{oops', 1))
    result = load_page(damaged)
    assert any("SyntaxError" in line for line in result.console)
    assert 'data-js-errors="1"' in root_tag(result.dom)
