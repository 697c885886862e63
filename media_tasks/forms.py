from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat


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
