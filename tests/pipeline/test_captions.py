"""Caption files (pipeline/captions.py): SRT and WebVTT in, WebVTT out, or a refusal that says where."""

import pytest

from media_tasks.pipeline.captions import language_tag, to_webvtt
from media_tasks.pipeline.exceptions import InvalidCaptions, MediaLimitError

SRT = (
    "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <i>there</i>\r\n\r\n"
    "2\r\n00:00:03,250 --> 00:00:04,000\r\nÉcoute: a second\r\nline\r\n"
)


def test_an_srt_file_becomes_webvtt_with_its_cues_times_and_text():
    captions = to_webvtt(("\ufeff" + SRT).encode())
    assert captions.vtt == (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello <i>there</i>\n\n"
        "00:00:03.250 --> 00:00:04.000\nÉcoute: a second\nline\n"
    )
    assert (captions.cues, captions.end_s) == (2, 4.0)


def test_a_webvtt_file_is_kept_as_webvtt():
    vtt = "WEBVTT - English\n\nNOTE made by hand\n\nintro\n00:01.000 --> 00:02.000 align:start\n<v Ann>Hi\n"
    captions = to_webvtt(vtt.encode())
    assert captions.vtt.startswith("WEBVTT - English\n") and "00:00:01.000 --> 00:00:02.000 align:start" in captions.vtt
    assert "<v Ann>Hi" in captions.vtt and captions.cues == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # A mistyped arrow: webvtt-py alone would show it to viewers as more text of cue 1.
        (
            SRT.replace("00:00:03,250 --> ", "00:00:03,250 -> "),
            "Line 6: expected a cue's timing, such as 00:00:01,000 --> 00:00:02,500, and found '00:00:03,250 -> ",
        ),
        (
            "1\n00:00:05,000 --> 00:00:04,000\nBackwards\n",
            "Cue 1 (00:00:05.000 --> 00:00:04.000) ends before it starts.",
        ),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nfine\n\nbroken --> x\nyo\n", "A cue in this WebVTT file is broken"),
        ("WEBVTT\n\nNOTE nothing here\n", "The caption file has no cues."),
        ("Just some notes,\nnot captions.\n", "Line 1: expected a cue's timing"),
        ("", "neither a SubRip (SRT) file"),
    ],
)
def test_a_broken_file_is_refused_with_where_it_breaks(data, message):
    with pytest.raises(InvalidCaptions) as refused:
        to_webvtt(data.encode())
    assert message in str(refused.value)


def test_text_that_is_not_utf8_is_refused_with_the_byte_that_gave_it_away():
    with pytest.raises(InvalidCaptions, match=r"must be UTF-8 text; byte 0xC9 at position 90 is not"):
        to_webvtt(SRT.encode("latin-1"))
    with pytest.raises(InvalidCaptions, match="NUL bytes"):
        to_webvtt(SRT.encode("utf-16-le"))


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    with pytest.raises(MediaLimitError, match="at most 1,024 are accepted"):
        to_webvtt(SRT.encode() * 20, max_bytes=1024)


@pytest.mark.parametrize(
    ("value", "tag"), [("en", "en"), ("EN_gb", "en-GB"), (" pt-BR ", "pt-BR"), ("zh-Hant-TW", "zh-Hant-TW")]
)
def test_a_language_is_a_registered_bcp47_tag_in_normal_form(value, tag):
    assert language_tag(value) == tag


@pytest.mark.parametrize("value", ["xx", "klingon", "", "und", "en-" + "a" * 40])
def test_anything_else_is_refused_with_an_example_of_what_is_expected(value):
    with pytest.raises(InvalidCaptions, match=r"is not a language code \(BCP 47\), such as en, en-GB or pt-BR"):
        language_tag(value)
