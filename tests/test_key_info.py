"""The <infoN> layout: one tag pattern for the dataset reader, the curation's annotator replies and the reward."""

from __future__ import annotations

import pytest

from perception_r1.data.curate.annotate import parse_annotation_reply
from perception_r1.key_info import format_visual_key_info, parse_visual_key_info
from perception_r1.rewards.perception import annotations_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<info1>AB = 5</info1>\n<info2>CD = 7</info2>", ["AB = 5", "CD = 7"]),  # the reference layout
        ("<INFO 1>AB = 5</INFO 1><info2>CD = 7</ info2 >", ["AB = 5", "CD = 7"]),  # case and spacing in the tags
        ("<info2>CD = 7</info2>\r\n<info1> AB  =  5 </info1>", ["AB = 5", "CD = 7"]),  # number order, CRLF, spaces
        ("<info1>AB = 5</info1>\n<info3>CD = 7</info3>", ["AB = 5", "CD = 7"]),  # a gap in the numbering
    ],
)
def test_every_reader_takes_the_same_tags(text, expected):
    assert parse_visual_key_info(text) == expected
    assert parse_annotation_reply(text) == expected  # the annotator's reply is read with the same pattern
    assert annotations_of(None, text) == expected  # and so is the perception reward's fallback column


@pytest.mark.parametrize(
    "items",
    [
        ["AB = 5"],  # one item
        ["AB = 5", "angle ABC = 90°", "D is the midpoint of AC"],  # several, with unicode
    ],
)
def test_format_then_parse_round_trips(items):
    assert parse_visual_key_info(format_visual_key_info(items)) == items


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<info1>AB = 5</info1> stray", "text outside"),  # prose next to the tags
        ("<info1>AB = 5</info1><info1>CD</info1>", "appears twice"),  # a number used twice
        ("<info1>AB = 5", "unclosed"),  # an open tag without its close
    ],
)
def test_malformed_layout_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_visual_key_info(text)
