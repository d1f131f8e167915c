"""``python -m flickrexif.testing``: the Flickr stand-in served by hand from the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import flickrapi


def test_command_line_serves_until_stopped():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(__import__("pathlib").Path(__file__).resolve().parents[3]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flickrexif.testing", "--photos", "30", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        api_url = process.stdout.readline().strip()
        assert api_url.startswith("http://127.0.0.1:") and api_url.endswith("/services/rest/")
        flickr = flickrapi.FlickrAPI("test-key", "secret", format="parsed-json", store_token=False)
        flickr.REST_URL = api_url
        assert flickr.photos.search(min_taken_date="2000-01-01", safe_search=3)["photos"]["total"] == 30
    finally:
        process.terminate()
        process.wait(timeout=10)
