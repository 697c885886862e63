"""Media processing on local files: ffprobe, ffmpeg and Pillow.

Plain Python with no Django import, so it can be tested and benchmarked alone.
Functions take paths and small dataclasses, return result dataclasses, and raise
the exceptions in `exceptions.py`.
"""
