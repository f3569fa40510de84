"""Live video progress: what ffmpeg reports while a real job transcodes reaches the live bus
(which every API process's hub hears and hands to the company's sockets) within a second
of the pipeline taking the report."""

import json
import threading
import time
from datetime import datetime
from pathlib import Path

import redis
from redis.client import PubSub

from app.core.config import Settings
from app.core.live import LIVE_CHANNEL
from app.models import VideoJob
from app.services.video_pipeline import VideoPipeline
from tests.support.media import make_clip
from tests.support.pipeline import VideoMaker, run

WAIT_SECONDS = 10.0


def subscribed(settings: Settings) -> PubSub:
    assert settings.REDIS_URL, "the live bus of this test is Redis"
    pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    pubsub.subscribe(LIVE_CHANNEL)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        confirmed = pubsub.get_message(timeout=0.1)
        if confirmed is not None and confirmed["type"] == "subscribe":
            return pubsub
    raise AssertionError("Redis did not confirm the subscription")


def progress_heard(pubsub: PubSub, job: VideoJob, done: threading.Event) -> list[float]:
    """Seconds from each progress report of `job`'s video to its arrival on the bus."""
    delays: list[float] = []
    while not done.is_set():
        message = pubsub.get_message(timeout=0.1)
        if message is None or message["type"] != "message":
            continue
        arrived = time.time()
        event = json.loads(message["data"]).get("message", {}).get("event", {})
        data = event.get("data", {})
        if event.get("type") == "video.progress" and data.get("video_id") == str(job.video_id):
            delays.append(arrived - datetime.fromisoformat(event["at"]).timestamp())
    return delays


def test_progress_reaches_the_live_bus_within_a_second_of_being_reported(
    make_video: VideoMaker, pipeline: VideoPipeline, settings: Settings, tmp_path: Path
) -> None:
    # Long enough to transcode for several seconds: ffmpeg reports every second or so.
    clip = make_clip(tmp_path / "talk.mkv", width=1280, height=720, seconds=20, vcodec="mpeg4")
    job = make_video(clip)
    pubsub = subscribed(settings)
    done = threading.Event()
    heard: list[float] = []
    listening = threading.Thread(target=lambda: heard.extend(progress_heard(pubsub, job, done)))
    listening.start()
    try:
        assert run(pipeline, job).status == "succeeded"
    finally:
        time.sleep(0.5)  # the last report's message is on its way
        done.set()
        listening.join(WAIT_SECONDS)
        pubsub.close()
    assert len(heard) >= 2, f"expected progress while transcoding, heard {heard}"
    assert max(heard) < 1.0, f"progress took {max(heard):.3f} s to reach the bus"
