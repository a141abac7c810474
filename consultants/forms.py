"""The consultant pages' forms: discovery's filters and the consultant's own profile."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from consultants import selectors
from consultants.models import Category, Channel, DocumentKind

TAG_MAX_LENGTH = 50
TAG_MAX_ITEMS = 20

ORDERING_CHOICES = [
    ("-rating", _("Top rated")),
    ("rate_per_minute", _("Price: low to high")),
    ("-rate_per_minute", _("Price: high to low")),
    ("-experience_years", _("Most experienced")),
    ("-total_sessions", _("Most sessions")),
]


class DiscoveryForm(forms.Form):
    """The API's discovery filters (CONTRACT.md) as query parameters of `/consultants/`; an
    invalid value is shown next to its field and left out of the search."""

    search = forms.CharField(label=_("Search"), max_length=100, required=False)
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label=_("All categories"),
    )
    language = forms.CharField(label=_("Language"), max_length=TAG_MAX_LENGTH, required=False)
    channel = forms.ChoiceField(
        label=_("Talk by"),
        choices=[("", _("Any")), *[(c.value, c.label) for c in Channel]],
        required=False,
    )
    # The API's own parameter, in paise (`max_rate=5000` is ₹50 a minute), offered as a few
    # price caps in rupees; any other value from a link is kept as an extra choice.
    max_rate = forms.IntegerField(
        label=_("Price per minute"),
        min_value=0,
        max_value=2**62,
        required=False,
        widget=forms.Select,
    )
    min_rating = forms.DecimalField(
        label=_("Rating"),
        min_value=0,
        max_value=5,
        max_digits=3,
        decimal_places=2,
        required=False,
        widget=forms.Select,
    )
    online = forms.BooleanField(label=_("Online now"), required=False)
    ordering = forms.ChoiceField(label=_("Sort by"), choices=ORDERING_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from web.templatetags.site import format_rupees

        caps = [1000, 2000, 3000, 5000, 10000, 20000, 50000]
        current = self.data.get("max_rate") if self.is_bound else None
        if current and current.isdigit() and int(current) not in caps:
            caps = sorted([*caps, int(current)])
        self.fields["max_rate"].widget.choices = [
            ("", _("Any price")),
            *[(str(cap), _("Up to %(price)s") % {"price": format_rupees(cap)}) for cap in caps],
        ]
        ratings = ["3", "4", "4.5"]
        current = self.data.get("min_rating") if self.is_bound else None
        if current and current not in ratings:
            ratings = [current, *ratings]
        self.fields["min_rating"].widget.choices = [
            ("", _("Any rating")),
            *[(value, _("%(stars)s★ and up") % {"stars": value}) for value in ratings],
        ]

    def options(self, name: str) -> list[tuple[str, str, bool]]:
        """(value, label, selected) of a choice field, for the page to draw the <select> itself:
        discovery is the hottest page, and Django's widget templates cost more than the rest of
        it together (bench_discovery)."""
        field = self[name]
        current = str(field.value() if field.value() is not None else "")
        return [
            (str(value), str(label), str(value) == current)
            for value, label in field.field.widget.choices
        ]

    def clean_language(self) -> str:
        value = self.cleaned_data["language"].strip()
        if "|" in value:
            raise ValidationError(_("May not contain '|'."))
        return value

    def filters(self) -> selectors.DiscoveryFilters:
        data = self.cleaned_data if self.is_bound else {}
        category = data.get("category")
        max_rate = data.get("max_rate")
        return selectors.DiscoveryFilters(
            category_id=category.pk if category else None,
            language=data.get("language") or None,
            online=True if data.get("online") else None,
            min_rating=data.get("min_rating"),
            max_rate=max_rate,
            channel=data.get("channel") or None,
            search=(data.get("search") or "").strip() or None,
        )

    def sort_order(self) -> str:
        value = self.cleaned_data.get("ordering") if self.is_bound else None
        return value if value in selectors.ORDERINGS else selectors.DEFAULT_ORDERING


def split_tags(value: str) -> list[str]:
    """ "Hindi, English" -> ["Hindi", "English"]: what a person types into one field."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


class TagsField(forms.CharField):
    """A comma-separated list, checked like the API's (at most 20 items of 50 characters, no
    `|`, no repeats ignoring case)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 1200)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def clean(self, value):
        items = split_tags(super().clean(value))
        if len(items) > TAG_MAX_ITEMS:
            raise ValidationError(_("At most %(n)d items.") % {"n": TAG_MAX_ITEMS})
        for item in items:
            if len(item) > TAG_MAX_LENGTH or "|" in item:
                raise ValidationError(
                    _("Each item is at most %(n)d characters, without '|'.") % {"n": TAG_MAX_LENGTH}
                )
        folded = [item.casefold() for item in items]
        if len(set(folded)) != len(folded):
            raise ValidationError(_("Items must not repeat."))
        return items


class RupeesField(forms.DecimalField):
    """A per-minute rate typed in rupees (`30` or `30.50`), cleaned to int paise; empty means
    the channel is not offered."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0.01)
        kwargs.setdefault("max_value", settings.MAX_RATE_PER_MINUTE / 100)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("max_digits", 12)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("step", "0.01")
        self.widget.attrs.setdefault("inputmode", "decimal")

    def prepare_value(self, value):
        if isinstance(value, int):
            return f"{value / 100:.2f}"
        return value

    def clean(self, value):
        rupees = super().clean(value)
        return None if rupees is None else int(rupees * 100)


class ProfileForm(forms.Form):
    bio = forms.CharField(
        label=_("About you"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What you help with, how you work, your qualifications."),
    )
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.order_by("name"),
        to_field_name="slug",
        empty_label=_("Choose your field"),
    )
    specializations = TagsField(
        label=_("Specializations"), help_text=_("Comma-separated, e.g. Property law, Tenancy.")
    )
    languages = TagsField(
        label=_("Languages"), help_text=_("Comma-separated, e.g. Hindi, English.")
    )
    experience_years = forms.IntegerField(
        label=_("Years of experience"), min_value=0, max_value=80, initial=0
    )
    rate_chat = RupeesField(label=_("Chat, ₹ per minute"))
    rate_voice = RupeesField(label=_("Voice call, ₹ per minute"))
    rate_video = RupeesField(label=_("Video call, ₹ per minute"))

    def changes(self) -> dict:
        """The profile service's `changes` (rates as the whole `{channel: paise}` list)."""
        data = self.cleaned_data
        rates = {
            channel.value: data[f"rate_{channel.value}"]
            for channel in Channel
            if data.get(f"rate_{channel.value}") is not None
        }
        return {
            "bio": data["bio"].strip(),
            "category": data["category"],
            "specializations": data["specializations"],
            "languages": data["languages"],
            "experience_years": data["experience_years"],
            "rates": rates,
        }


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Document type"), choices=DocumentKind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, PNG or JPEG, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )
