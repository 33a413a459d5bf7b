from django import forms

from demo_requests.forms import plain_text

from .models import COMMENT_MAX_LENGTH, Reason


class VoteForm(forms.Form):
    helpful = forms.ChoiceField(choices=[("yes", "Yes"), ("no", "No")])
    # The honeypot (demo_requests.spam.HONEYPOT_FIELD): hidden by CSS, filled in only by bots.
    website = forms.CharField(required=False, max_length=500)

    @property
    def is_helpful(self) -> bool:
        return self.cleaned_data["helpful"] == "yes"


class ReasonsForm(forms.Form):
    reasons = forms.MultipleChoiceField(
        label="What was wrong with it?",
        choices=Reason.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    comment = forms.CharField(
        label="Anything else? (optional)",
        help_text=f"At most {COMMENT_MAX_LENGTH:,} characters. Please leave out names, e-mail "
        "addresses and anything else about you: we only need to know what to fix.",
        max_length=COMMENT_MAX_LENGTH,
        required=False,
        validators=[plain_text],
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": COMMENT_MAX_LENGTH}),
    )
    vote = forms.CharField(widget=forms.HiddenInput, max_length=500)
    started = forms.CharField(widget=forms.HiddenInput, max_length=500)
    website = forms.CharField(
        required=False,
        max_length=500,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("reasons") and not (cleaned.get("comment") or "").strip():
            raise forms.ValidationError("Choose at least one reason or write a comment.", code="empty")
        return cleaned
