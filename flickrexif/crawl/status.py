"""``flickrexif status``: what a crawl database holds, what it cost, and how far it has to go."""

from __future__ import annotations

from typing import Any

from flickrexif.crawl import store as states
from flickrexif.crawl.records import Window
from flickrexif.crawl.store import CrawlStore
from flickrexif.exif.labels import ATTRIBUTES

# Photo states that are failures worth reporting as errors (the others are normal outcomes).
_ERROR_STATES = {
    states.EXIF_HIDDEN: "exif_hidden",
    states.EXIF_MISSING: "exif_not_found",
    states.FAILED: "getexif_failed",
    states.NO_CAMERA_EXIF: "no_camera_exif",
}
# getExif's "not found" and "hidden" answers are outcomes, already counted by photo state above.
_EXPECTED_OUTCOMES = {("flickr.photos.getExif", "code1"), ("flickr.photos.getExif", "code2")}
# Calls sent whose outcome is not (yet) counted: in flight, or lost to a kill.  Spent, but not errors.
_NOT_ERRORS = {"ok", states.UNRECORDED}
TOP_CLASSES = 10


def crawl_status(store: CrawlStore) -> dict[str, Any]:
    """A JSON-ready summary; ``photos_kept``, ``api_calls`` and ``errors`` are stable keys."""
    by_status = store.count_by("status")
    kept = by_status.get(states.KEPT, 0)
    calls = store.api_calls()
    calls_by_method = {method: sum(outcomes.values()) for method, outcomes in calls.items()}
    total_calls = sum(calls_by_method.values())
    downloads = store.count_by("download_status")
    downloads.pop("none", None)

    errors: dict[str, int] = {name: by_status[state] for state, name in _ERROR_STATES.items() if by_status.get(state)}
    for method, outcomes in calls.items():
        for outcome, count in outcomes.items():
            if outcome not in _NOT_ERRORS and (method, outcome) not in _EXPECTED_OUTCOMES:
                errors[f"api_{outcome}"] = errors.get(f"api_{outcome}", 0) + count
    if downloads.get("failed"):
        errors["download_failed"] = downloads["failed"]
    windows = store.windows()
    if failed_windows := sum(window.status == "failed" for window in windows):
        errors["search_window_failed"] = failed_windows  # retried on the next run
    if skipped_rows := sum(window.skipped for window in windows):
        errors["search_rows_skipped"] = skipped_rows  # rows without a usable id or owner

    seconds = float(store.get_meta("crawl_seconds") or 0.0)
    processed = sum(
        n for state, n in by_status.items() if state not in (states.PENDING, states.CAPPED, states.FILTERED)
    )
    rate = processed / seconds if seconds > 0 else None
    remaining = store.remaining_estimate() + by_status.get(states.PENDING, 0)
    return {
        "db": str(store.path),
        "photos_seen": sum(by_status.values()),
        "photos_kept": kept,
        "photos_by_status": by_status,
        "filtered": {k: v for k, v in store.count_by("filter_reason").items() if k != "none"},
        "cap": {
            "photos_capped": by_status.get(states.CAPPED, 0),
            "owner_months_at_cap": store.owner_months_at_cap(),
        },
        "api_calls": calls_by_method,
        "api_calls_total": total_calls,
        "api_call_outcomes": calls,
        "calls_per_kept_photo": round(total_calls / kept, 4) if kept else None,
        "errors": errors,
        "downloads": downloads,
        "download_sizes": {k: v for k, v in store.count_by("download_size").items() if k != "none"},
        "labels": _label_distributions(store),
        "search_windows": _window_counts(windows),
        "crawl_seconds": round(seconds, 1),
        "photos_per_second": round(rate, 3) if rate else None,
        "remaining_photos_estimate": remaining,
        "eta_seconds": round(remaining / rate) if rate else None,
    }


def _label_distributions(store: CrawlStore) -> dict[str, dict[str, int]]:
    """The most common classes of each attribute among kept photos, keyed by the paper's attribute names."""
    by_field = store.label_distributions(ATTRIBUTES.values(), TOP_CLASSES)
    return {attribute: by_field[field] for attribute, field in ATTRIBUTES.items()}


def _window_counts(windows: list[Window]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for window in windows:
        counts[window.status] = counts.get(window.status, 0) + 1
    return counts
