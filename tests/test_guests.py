"""Guest line split: the name is the one the guest speaks under; separators may join titles."""

from __future__ import annotations

import pytest

from pipelines.pages.interview import split_guests


@pytest.mark.parametrize(
    "line, speakers, expected",
    [
        ("东莞市厚街镇党委书记谢卫东", {"谢卫东"}, [("谢卫东", "东莞市厚街镇党委书记")]),
        ("寮厦社区党委书记 詹静", {"詹静"}, [("詹静", "寮厦社区党委书记")]),
        # 、 between two titles of one guest does not make two guests
        (
            "河田社区党委书记、居委会主任 陈丽华",
            {"陈丽华"},
            [("陈丽华", "河田社区党委书记、居委会主任")],
        ),
        ("詹静 寮厦社区党委书记、居委会主任", {"詹静"}, [("詹静", "寮厦社区党委书记、居委会主任")]),
        ("詹静，寮厦社区党委书记", {"詹静"}, [("詹静", "寮厦社区党委书记")]),
        # two guests, both speaking
        (
            "寮厦社区党委书记 詹静、厚街镇副镇长 李明",
            {"詹静", "李明"},
            [("詹静", "寮厦社区党委书记"), ("李明", "厚街镇副镇长")],
        ),
        # the second guest never speaks: still a guest of their own
        (
            "寮厦社区党委书记 詹静、厚街镇副镇长 李明",
            {"詹静"},
            [("詹静", "寮厦社区党委书记"), ("李明", "厚街镇副镇长")],
        ),
    ],
)
def test_split_guests(line, speakers, expected):
    got = [(g["name"], g["title"]) for g in split_guests(line, speakers | {"厚街发布"})]
    assert got == expected
