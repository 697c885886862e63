import re

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from .models import ApiToken, Asset, CaptionTrack, Rendition
from .text import validate_text


class TextForm(forms.BaseForm):
    """Every text field of the form refuses what is not text (media_tasks.text), as a field error."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators.append(validate_text)


class UploadForm(forms.Form):
    # The browser's accept list is a hint for the picker only: the worker decides
    # what the file is from its content.
    file = forms.FileField(widget=forms.ClearableFileInput(attrs={"accept": "video/*,audio/*,image/*"}))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.MEDIA_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}."
            )
        return upload


class AssetDetailsForm(TextForm, forms.ModelForm):
    """The owner's words for an asset, on its page: alt text only for images."""

    class Meta:
        model = Asset
        fields = ["title", "description", "alt_text"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"title": "Shown instead of the file name."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].widget.attrs["placeholder"] = self.instance.original_filename
        if self.instance.kind != Asset.Kind.IMAGE:
            del self.fields["alt_text"]


class PosterForm(TextForm, forms.Form):
    frame = forms.CharField(max_length=Rendition._meta.get_field("profile").max_length)


class PosterTimeField(forms.Field):
    """A moment in the video, typed as seconds (75, 75.5) or minutes:seconds (1:15, 1:02:03.5)."""

    default_error_messages = {"invalid": "Write the time as seconds (75) or minutes:seconds (1:15)."}

    def to_python(self, value: object) -> float | None:
        text = str(value or "").strip()
        if not text:
            return None
        parts = text.split(":")
        if len(text) > 16 or len(parts) > 3 or not all(re.fullmatch(r"\d+(\.\d+)?", p) for p in parts):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return float(sum(float(p) * 60**i for i, p in enumerate(reversed(parts))))


class PosterTimeForm(forms.Form):
    poster_time = PosterTimeField(
        label="Take the frame at",
        required=False,  # the view says what is missing, in the poster chooser's words
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "placeholder": "1:15", "autocomplete": "off", "maxlength": 16}
        ),
    )


class PosterImageForm(forms.Form):
    # The browser's accept list is a hint; services.posters checks what the file is.
    image = forms.FileField(
        label="Or upload a picture",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )


class CaptionForm(TextForm, forms.Form):
    """A caption track from the item's page; services.captions checks the file and the language."""

    language = forms.CharField(
        max_length=CaptionTrack._meta.get_field("language").max_length,
        help_text="A language code, such as en, en-GB or pt-BR.",
        widget=forms.TextInput(attrs={"placeholder": "en-GB", "autocomplete": "off", "spellcheck": "false"}),
    )
    label = forms.CharField(
        max_length=CaptionTrack._meta.get_field("label").max_length,
        required=False,
        help_text="What the player's menu shows (the language code when empty).",
    )
    file = forms.FileField(
        label="SRT or WebVTT file", widget=forms.ClearableFileInput(attrs={"accept": ".srt,.vtt,text/vtt"})
    )


class ApiTokenForm(TextForm, forms.Form):
    name = forms.CharField(max_length=ApiToken._meta.get_field("name").max_length, required=False)
