"""How long a stage has left, from how fast its progress moved while someone watched."""

from __future__ import annotations

from collections.abc import Sequence

# The rate is taken over the latest looks only: an encode speeds up once the lead rung's own ffmpeg
# is done (pipeline.lead), and a long one should not be judged by its first minute.
WINDOW_S = 30.0


def remaining_s(looks: Sequence[tuple[float, float]], *, now: float, end: float) -> float | None:
    """Seconds until the progress reaches `end`, from `looks`: (time in s, progress) in time order,
    one per change of progress, as first seen. None until the progress has moved twice.

    The first look is left out as a start: the page may have been opened long after that
    progress was reached, and what came before the first move (the wait in the queue, the
    source's copy, ffmpeg starting) is not the pace of the work."""
    moved = list(looks[1:])
    if len(moved) < 2:
        return None
    last_at, last = moved[-1]
    base_at, base = next((look for look in moved if look[0] >= last_at - WINDOW_S), moved[0])
    if base_at == last_at:  # one move in the window: its pace from the look before it
        base_at, base = moved[-2]
    if last <= base or last_at <= base_at:
        return None
    rate = (last - base) / (last_at - base_at)
    return max(0.0, (end - last) / rate - max(0.0, now - last_at))
