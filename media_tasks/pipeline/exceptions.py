"""Errors the pipeline raises. Each message is written for the person who uploaded the file."""


class PipelineError(Exception):
    """Base class. `str(error)` is shown to the user, so keep it plain and short."""


class UnsupportedMediaError(PipelineError):
    """The content is not a video, sound or image we accept (whatever its file name says)."""


class TruncatedMediaError(UnsupportedMediaError):
    """The file declares more than can be decoded from it: it was cut short (an interrupted copy or
    upload, a camera that lost power)."""


class MediaLimitError(PipelineError):
    """The content is valid but over a configured limit (duration, pixels, size)."""


class ProcessingError(PipelineError):
    """ffmpeg or Pillow failed on content that looked acceptable at probe time."""


class ProcessingCancelled(PipelineError):
    """The work was stopped on purpose (the job was cancelled)."""


class HardwareEncoderError(Exception):
    """A GPU encode or decode failed at run time.

    Deliberately not a PipelineError: the file is not at fault, so the job must not
    fail. The caller sends the work back to a CPU encoder instead.
    """


class EncoderKilled(Exception):
    """ffmpeg died by a signal that was not ours (the kernel's OOM killer, an operator's kill).

    Deliberately not a PipelineError: nothing says the file is at fault, so the stage is
    retried (tasks.base.TRANSIENT_ERRORS) instead of the job failing.
    """

    def __init__(self, signal: str):
        super().__init__(f"ffmpeg was killed by a signal ({signal}).")
        self.signal = signal


class DiskFull(Exception):
    """A local disk (the work directory, the spool) ran out of space: ENOSPC from ffmpeg or from
    our own writes.

    Deliberately not a PipelineError: the machine is short of room, not the file at fault, so
    the stage waits and is tried again (perhaps on a worker with room) instead of the job failing.
    """

    def __init__(self, detail: str):
        super().__init__(f"The work disk is full ({detail}).")
        self.detail = detail


class InvalidCaptions(UnsupportedMediaError):
    """An uploaded caption file is not SRT or WebVTT we can show: a broken cue, the wrong text
    encoding, no cues at all. The message says where."""
