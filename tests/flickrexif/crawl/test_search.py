"""What a crawl asks Flickr: settings checked up front, date windows that cover every second once."""

from __future__ import annotations

from datetime import datetime

import pytest

from flickrexif.crawl.records import Window
from flickrexif.crawl.search import CrawlConfig, search_params, split_range

RANGE = dict(min_taken=datetime(2009, 1, 1), max_taken=datetime(2025, 1, 1))


def test_split_range_covers_every_second_once():
    parts = split_range("2020-01-01 00:00:00", "2020-01-01 00:00:09", 3)
    assert parts == [
        ("2020-01-01 00:00:00", "2020-01-01 00:00:02"),
        ("2020-01-01 00:00:03", "2020-01-01 00:00:05"),
        ("2020-01-01 00:00:06", "2020-01-01 00:00:09"),
    ]
    assert split_range("2020-01-01 00:00:00", "2020-01-01 00:00:01", 5) == [
        ("2020-01-01 00:00:00", "2020-01-01 00:00:00"),
        ("2020-01-01 00:00:01", "2020-01-01 00:00:01"),
    ]


def test_bad_settings_are_rejected_up_front():
    with pytest.raises(ValueError, match="must be after"):
        CrawlConfig(min_taken=datetime(2020, 1, 1), max_taken=datetime(2019, 1, 1))
    with pytest.raises(ValueError, match="max-per-user-month"):
        CrawlConfig(**RANGE, max_per_user_month=0)


def test_search_params_ask_for_one_page_of_one_window():
    config = CrawlConfig(**RANGE, text="sunset", licenses=frozenset({9, 4}), per_page=100)
    window = Window(config.query_key(), "2015-01-01 00:00:00", "2015-06-30 23:59:59", None, 1, "open")
    params = search_params(config, window, 3)
    assert params["license"] == "4,9" and params["page"] == 3 and params["per_page"] == 100
    assert (params["min_taken_date"], params["max_taken_date"]) == (window.min_taken, window.max_taken)
    assert params["sort"] == "date-taken-asc" and params["text"] == "sunset"
