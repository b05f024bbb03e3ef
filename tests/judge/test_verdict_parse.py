"""Strict verdict parsing: exactly M binary verdicts or an error (never a partial score)."""

from __future__ import annotations

import pytest

from perception_r1.judge.parse import VerdictError, parse_verdicts


@pytest.mark.parametrize(
    ("text", "m", "expected"),
    [
        ("<info1>1</info1>\n<info2>0</info2>\n<info3>1</info3>", 3, [1, 0, 1]),  # canonical
        ("<info1> 1 </info1><info2>\n0\n</info2>", 2, [1, 0]),  # whitespace inside tags tolerated
        ("Checking...\n<info1>0</info1>\nok <INFO2>1</INFO2> done", 2, [0, 1]),  # prose around tags tolerated
    ],
)
def test_valid_tag_replies(text, m, expected):
    assert parse_verdicts(text, m) == expected


@pytest.mark.parametrize(
    ("text", "m", "reason"),
    [
        ("<info1>1</info1>", 5, "indices \\[1\\]"),  # too few: the reference scored this 1.0
        ("<info1>1</info1><info2>1</info2><info3>1</info3>", 2, "indices \\[1, 2, 3\\]"),  # extra verdict
        ("<info1>1</info1><info1>0</info1>", 2, "indices \\[1, 1\\]"),  # duplicate index
        ("<info2>1</info2><info1>1</info1>", 2, "indices \\[2, 1\\]"),  # out of order
        ("<info1>1</info1><info3>1</info3>", 2, "indices \\[1, 3\\]"),  # gap
        ("<info1>yes</info1><info2>1</info2>", 2, "non-binary verdict 'yes'"),  # non-binary word
        ("<info1>0.5</info1><info2>1</info2>", 2, "non-binary verdict '0.5'"),  # partial credit
        ("<info1>2</info1><info2>1</info2>", 2, "non-binary verdict '2'"),  # out of range
        ("<info1>1</info1><info2>1", 2, "indices \\[1\\]"),  # unclosed tag
        ("<info1>1</info1><info2>1</info2> <info2>", 2, "found 3"),  # stray extra opening tag
        ("", 1, "indices \\[\\]"),  # empty reply
        ('{"verdicts": [1, 1]}', 2, "indices \\[\\]"),  # JSON when tags were asked for
    ],
)
def test_invalid_tag_replies(text, m, reason):
    with pytest.raises(VerdictError, match=reason):
        parse_verdicts(text, m)


@pytest.mark.parametrize(
    ("text", "m", "expected"),
    [
        ('{"verdicts": [1, 0, 1]}', 3, [1, 0, 1]),  # canonical
        ('```json\n{"verdicts": [0]}\n```', 1, [0]),  # fenced
        (' {"verdicts":[1,1]} \n', 2, [1, 1]),  # surrounding whitespace
    ],
)
def test_valid_json_replies(text, m, expected):
    assert parse_verdicts(text, m, structured=True) == expected


@pytest.mark.parametrize(
    ("text", "m", "reason"),
    [
        ('{"verdicts": [1]}', 3, "expected 3 verdicts, got 1"),  # too few
        ('{"verdicts": [1, 1, 1, 0]}', 3, "expected 3 verdicts, got 4"),  # too many
        ('{"verdicts": [true, false]}', 2, "non-binary verdict True"),  # booleans are not 0/1 integers
        ('{"verdicts": ["1", "0"]}', 2, "non-binary verdict '1'"),  # strings
        ('{"verdicts": [1.0, 0]}', 2, "non-binary verdict 1.0"),  # floats
        ('{"verdicts": [1, 2]}', 2, "non-binary verdict 2"),  # out of range
        ('{"verdicts": 1}', 1, "not a list"),  # scalar
        ('{"verdicts": [1], "score": 1}', 1, "single key"),  # extra keys
        ("[1, 0]", 2, "single key"),  # bare list
        ('{"verdicts": [1, 0]', 2, "not JSON"),  # truncated
        ("<info1>1</info1>", 1, "not JSON"),  # tags when JSON was asked for
    ],
)
def test_invalid_json_replies(text, m, reason):
    with pytest.raises(VerdictError, match=reason):
        parse_verdicts(text, m, structured=True)


def test_zero_annotations_is_a_caller_error():
    with pytest.raises(ValueError, match="at least one annotation"):
        parse_verdicts("", 0)
