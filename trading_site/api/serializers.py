"""Serializer helpers shared by the apps' APIs."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.fields import DateField, DateTimeField, DecimalField, SerializerMethodField, SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.utils.serializer_helpers import BindingDict

from trading_site.lib.dates import DateRangeError, market_date_check
from trading_site.lib.money import DecimalInputError, to_decimal


class PrebuiltFieldsMixin:
    """Render read-only output with one set of fields built per class, not per instance.

    DRF builds a ``ModelSerializer``'s fields from the model for every serializer instance (about
    0.5 ms for an order's 30 fields — more than the rest of the rendering). Rendering does not
    change a field, so one built set per class serves every instance and thread. Method fields are
    called on the rendering instance (its context); everything else is DRF's own
    ``Serializer.to_representation``. Output only: input validation keeps DRF's per-instance fields.
    """

    @classmethod
    def _prebuilt_fields(cls) -> list:
        fields = cls.__dict__.get("_prebuilt")
        if fields is None:
            # Built once per class (concurrent first calls build equal lists; the last one stays).
            fields = [f for f in cls().fields.values() if not f.write_only]
            cls._prebuilt = fields
        return fields

    def to_representation(self, instance):
        ret = {}
        for field in self._prebuilt_fields():
            if isinstance(field, SerializerMethodField):
                ret[field.field_name] = getattr(self, field.method_name)(instance)
                continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[field.field_name] = None if check_for_none is None else field.to_representation(attribute)
        return ret


class PrebuiltInputFieldsMixin:
    """Validate with one copy of the declared fields per class, not one per request.

    DRF deep-copies a serializer's declared fields for every instance (about 0.25 ms for an order's
    ten fields). Validating does not change a field — values are returned and errors raised — so a
    plain input serializer can share one copy across requests and threads. Only for serializers
    whose fields read no context (no ``HiddenField``, ``CurrentUserDefault`` or request-dependent
    field); ``validate``/``validate_<field>`` methods still run on the request's own instance.
    """

    @property
    def fields(self):
        cls = type(self)
        fields = cls.__dict__.get("_prebuilt_input")
        if fields is None:
            proto = cls()
            fields = BindingDict(proto)
            for name, field in proto.get_fields().items():
                fields[name] = field
            cls._prebuilt_input = fields
        return fields


class StrictDecimalField(DecimalField):
    """DRF's DecimalField with the one strict number grammar (``trading_site.lib.money.to_decimal``).

    DRF's own field passes text to ``Decimal()``, which takes ``"1_0"``, ``" 1"``, ``"1e3"`` and
    other scripts' digits. Here the text must be plain ASCII digits with one optional sign and point;
    ``max_digits``/``decimal_places``/``min_value``/``max_value`` then bound it as usual.
    """

    def to_internal_value(self, data):
        try:
            value = to_decimal(data, field=self.field_name or "value")
        except DecimalInputError as exc:
            raise ValidationError(str(exc)) from exc
        return super().to_internal_value(value)


class MarketDateField(DateField):
    """A date within the market range (``trading_site.lib.dates``: 1990-01-01 to a year ahead)."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        try:
            return market_date_check(day, field=self.field_name or "date")
        except DateRangeError as exc:
            raise ValidationError(str(exc)) from exc


class BoundedDateTimeField(DateTimeField):
    """A date-time whose date is within the market range (``trading_site.lib.dates``)."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        try:
            market_date_check(moment.date(), field=self.field_name or "time")
        except DateRangeError as exc:
            raise ValidationError(str(exc)) from exc
        return moment
