"""Towns files: discovery's rewrite keeps comments (crawler/townsfile.py); loading a file."""

from __future__ import annotations

import pytest

from crawler.config import ConfigError, load_towns
from crawler.townsfile import (
    FoundColumn,
    TownResult,
    apply_discovery,
    candidate_folders,
    read_text,
)
from tests.mocksite.towns import GUESSED_TOML


def test_nothing_learned_changes_nothing():
    text = read_text(None)
    assert apply_discovery(text, []) == (text, [])
    # a town whose folder did not answer is left alone
    assert apply_discovery(text, [TownResult("houjie")])[0] == text


def test_bundled_file_keeps_comments_and_marks_what_was_seen():
    text = read_text(None)
    found = {"houjie/cjjs/tshj/": FoundColumn("houjie/cjjs/tshj/", "图说厚街", 9149, 12)}
    new, changes = apply_discovery(
        text, [TownResult("houjie", "houjie", found, {"houjie/xwzx/zhxw/": "gone (404)"})]
    )
    # every comment of the original file survives
    for line in text.splitlines():
        if line.startswith("#"):
            assert line in new.splitlines()
    assert "verified = true  # /houjie/ inferred; /hj/ also seen" in new
    towns = load_towns(new)
    houjie = towns[0]
    assert houjie.verified
    assert [(c.path, c.feed, c.verified) for c in houjie.columns] == [
        ("houjie/cjjs/tshj/", 9149, True)
    ]
    assert "# removed by towns discover: houjie/xwzx/zhxw/ (gone (404))" in new
    assert load_towns(new)[1:] == load_towns(text)[1:]  # other towns untouched
    assert "houjie: removed houjie/xwzx/zhxw/: gone (404)" in changes


def test_new_columns_are_added_verified_and_the_folder_recorded():
    found = {"st/xwzx/zhxw/": FoundColumn("st/xwzx/zhxw/", "综合新闻")}
    new, _ = apply_discovery(
        GUESSED_TOML,
        [TownResult("shatian", "st", found, {"shatian/xwzx/zhxw/": "gone (404)"})],
    )
    shatian = next(t for t in load_towns(new) if t.slug == "shatian")
    assert [(c.path, c.name, c.verified) for c in shatian.columns] == [
        ("st/xwzx/zhxw/", "综合新闻", True)
    ]
    assert 'alternatives = ["st"]  # the short folder seen in links' in new
    assert candidate_folders(new)["shatian"] == ["st", "shatian"]
    assert new.startswith("# A towns file as written before the first live run")


def test_candidate_folders_try_the_slug_then_alternatives():
    assert candidate_folders(GUESSED_TOML) == {
        "daojiao": ["daojiao"], "dalang": ["dalang"], "shatian": ["shatian", "st"],
    }  # fmt: skip


def test_load_towns_from_a_file(tmp_path):
    path = tmp_path / "towns.toml"
    path.write_text(GUESSED_TOML, encoding="utf-8")
    assert [t.slug for t in load_towns(path=path)] == ["daojiao", "dalang", "shatian"]
    with pytest.raises(ConfigError, match="cannot read"):
        load_towns(path=tmp_path / "missing.toml")
    path.write_text("[[town]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_towns(path=path)
    path.write_text('[[town]]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks"):
        load_towns(path=path)
