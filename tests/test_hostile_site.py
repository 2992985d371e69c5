"""The hostile site itself, and a crawl of its one well-behaved case as the control."""

from __future__ import annotations

import urllib.request

import pytest

from tests.hostile import CASES, HostileSite
from tests.hostile.harness import crawl_hostile


def test_every_case_has_its_own_article_id():
    site = HostileSite()  # loads every case module
    ids = [c.article_id for c in site.cases]
    assert len(ids) == len(set(ids)) and "well_formed" in CASES


def test_serves_the_list_and_the_case_article():
    with HostileSite(["well_formed"]) as site:
        listing = urllib.request.urlopen(site.url + "houjie/cjjs/tshj/").read().decode()
        assert "post_4200999.html" in listing and "post_4100000.html" in listing
        page = urllib.request.urlopen(site.fetch_url("well_formed")).read().decode()
        assert "<ucaptitle>" in page
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(site.url + "nothing-here")
        assert err.value.code == 404


@pytest.mark.e2e
def test_crawl_of_a_well_formed_case_stores_it_and_exits_0(tmp_path):
    with HostileSite(["well_formed"]) as site:
        run = crawl_hostile(site, tmp_path)
    assert run.returncode == 0, run.log
    assert {site.article_url("well_formed"), site.control_url} <= run.stored_urls()
    assert not run.failures()
    types = [r["type"] for r in run.check_warcs()]
    assert types[0] == "warcinfo" and types.count("response") >= 3
