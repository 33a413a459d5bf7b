import re

from django import forms
from django.core.exceptions import ValidationError

# Control characters (CR, LF, NUL, ...) have no place in a one-line field; refusing them here
# means no field can ever add a header to an e-mail built from it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
# The message may hold line breaks and tabs, never other control characters.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def one_line(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("Use one line of plain text, without line breaks or control characters.")


def plain_text(value: str) -> None:
    if _CONTROL_IN_TEXT.search(value):
        raise ValidationError("Remove the control characters from your message.")


class DemoRequestForm(forms.Form):
    name = forms.CharField(
        label="Your name",
        max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        validators=[one_line],
        error_messages={"required": "Enter your name."},
    )
    email = forms.EmailField(
        label="Work e-mail",
        max_length=254,
        help_text="We reply to this address, and only about this request.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        validators=[one_line],
        error_messages={
            "required": "Enter your work e-mail address.",
            "invalid": "Enter an e-mail address like name@company.com.",
        },
    )
    company = forms.CharField(
        label="Company",
        max_length=160,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
        validators=[one_line],
        error_messages={"required": "Enter the name of your company."},
    )
    role = forms.CharField(
        label="Role",
        max_length=120,
        required=False,
        validators=[one_line],
        widget=forms.TextInput(attrs={"autocomplete": "organization-title"}),
    )
    message = forms.CharField(
        label="Message",
        max_length=5000,
        help_text="What would you like to see in the demo?",
        required=False,
        validators=[plain_text],
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    consent = forms.BooleanField(
        label="You may contact me about this demo request.",
        error_messages={"required": "Tick the box so that we may contact you about the demo."},
    )
    source = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    started = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    # The honeypot (spam.HONEYPOT_FIELD): hidden by CSS, left empty by people, filled in by bots.
    website = forms.CharField(
        required=False,
        max_length=500,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def clean_source(self) -> str:
        source = self.cleaned_data["source"]
        # An unknown or malformed source is simply not recorded; it is never an error.
        return source if re.fullmatch(r"[-a-zA-Z0-9_]{1,200}", source) else ""
