from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from .models import ApiToken, Asset, Rendition
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
    file = forms.FileField(widget=forms.ClearableFileInput(attrs={"accept": "video/*,image/*"}))

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


class ApiTokenForm(TextForm, forms.Form):
    name = forms.CharField(max_length=ApiToken._meta.get_field("name").max_length, required=False)
