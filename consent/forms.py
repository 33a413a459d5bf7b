from django import forms

from .models import ConsentAction


class ConsentForm(forms.Form):
    action = forms.ChoiceField(choices=[(a.value, a.label) for a in ConsentAction] + [("save", "Save")])
    analytics = forms.BooleanField(required=False)
    next = forms.CharField(required=False, max_length=2000)

    def clean_action(self) -> str:
        action = self.cleaned_data["action"]
        return ConsentAction.CUSTOMISE.value if action == "save" else action
