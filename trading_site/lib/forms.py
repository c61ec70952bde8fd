"""Form fields shared by the console's forms."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from trading_site.lib.money import DecimalInputError, to_decimal


class StrictDecimalField(forms.DecimalField):
    """Django's DecimalField with the one strict number grammar (``trading_site.lib.money.to_decimal``).

    Django's own field strips the text and passes it to ``Decimal()``, which takes ``"1_0"``,
    ``"1e3"`` and other scripts' digits. Here the text as typed must be plain ASCII digits with one
    optional sign and point; ``max_digits``/``decimal_places``/``min_value``/``max_value`` then bound it.
    """

    def to_python(self, value) -> Decimal | None:
        if value in self.empty_values:
            return None
        try:
            return to_decimal(value, field=self.label or "value")
        except DecimalInputError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


class StrictNumberTextField(forms.CharField):
    """A quantity or price kept as the text typed (the gateway parses it), refused early when it is
    not a plain decimal number. Not stripped: ``" 1"`` is refused, as everywhere else."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value not in self.empty_values:
            try:
                to_decimal(value, field=self.label or "value")
            except DecimalInputError as exc:
                raise forms.ValidationError(str(exc), code="invalid") from exc
        return value
