"""ffmpeg under a job's watch: progress written at most once a second, the lease renewed on
the same write, and the run stopped within moments once the job is cancelled."""

import time
import uuid

from app.services.video_job_state import JobCancelledError, JobState
from app.utils.ffmpeg import FfmpegCancelled, FfmpegConfig, Progress, run

PROGRESS_EVERY_SECONDS = 1.0


class WatchedFfmpeg:
    def __init__(self, state: JobState, video_id: uuid.UUID, config: FfmpegConfig) -> None:
        self.state = state
        self.video_id = video_id
        self.config = config
        self._cancel_requested = False
        self._last_report = 0.0

    def run(self, argv: list[str], duration: float | None, rendition: str | None) -> None:
        """Run `argv`; progress goes to `rendition` (None: a step without its own row).
        Raises `JobCancelledError` if the job was cancelled meanwhile."""

        def report(progress: Progress) -> None:
            now = time.monotonic()
            if now - self._last_report < PROGRESS_EVERY_SECONDS:
                return
            self._last_report = now
            self._cancel_requested = self.state.report_progress(self.video_id, rendition, progress)

        try:
            run(
                argv,
                self.config,
                duration=duration,
                on_progress=report,
                should_cancel=lambda: self._cancel_requested,
            )
        except FfmpegCancelled as error:
            raise JobCancelledError from error
