"""Console forms: parse and check the shape of input; the services decide everything else."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from marketdata.selectors import asset_get
from orders.models import OrderSource, OrderStatus, OrderType, Side, TimeInForce
from orders.twap import MAX_SLICES
from strategies.allocation import METHODS
from trading_site.lib.forms import StrictDecimalField, StrictNumberTextField
from trading_site.lib.money import DecimalInputError, parse_price, parse_qty

REASON_HELP = "Why: recorded in the audit log with your name."


def _reason_field() -> forms.CharField:
    return forms.CharField(
        max_length=500, strip=True, help_text=REASON_HELP,
        error_messages={"required": "A reason is required."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class OrderForm(forms.Form):
    symbol = forms.CharField(max_length=16, widget=forms.TextInput(attrs={"autocapitalize": "characters",
                                                                         "autocomplete": "off",
                                                                         "list": "asset-list"}),
                             help_text="Type to search the known assets.")
    side = forms.ChoiceField(choices=Side.choices)
    qty = StrictNumberTextField(max_length=32, label="Quantity", widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    order_type = forms.ChoiceField(choices=OrderType.choices, label="Order type")
    limit_price = StrictNumberTextField(max_length=32, required=False, label="Limit price",
                                  widget=forms.TextInput(attrs={"inputmode": "decimal"}),
                                  help_text="Limit orders only.")
    time_in_force = forms.ChoiceField(choices=TimeInForce.choices, initial=TimeInForce.DAY, label="Time in force")
    slices = forms.IntegerField(required=False, min_value=1, max_value=MAX_SLICES, label="TWAP slices",
                                help_text="Optional: send the order as this many equal slices (TWAP).")
    horizon_minutes = StrictDecimalField(required=False, min_value=Decimal("0.1"), max_digits=8, decimal_places=2,
                                         label="TWAP horizon (minutes)",
                                         help_text="With TWAP slices: the time over which the slices are spread.")

    def clean_symbol(self) -> str:
        symbol = self.cleaned_data["symbol"].strip().upper()
        if asset_get(symbol=symbol) is None:
            raise forms.ValidationError(f"unknown symbol {symbol}: choose one of the known assets")
        return symbol

    # Quantity and limit price are checked here with the ledger's own parsers, so every field's error
    # shows at once; the gateway parses them again (the one rule) when the order is previewed and sent.
    def clean_qty(self) -> str:
        value = self.cleaned_data["qty"].strip()
        try:
            parse_qty(value, field="Quantity")
        except DecimalInputError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return value

    def clean_limit_price(self) -> str:
        value = (self.cleaned_data.get("limit_price") or "").strip()
        if value:
            try:
                parse_price(value, field="Limit price")
            except DecimalInputError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return value

    def clean(self):
        data = super().clean()
        slices, horizon = data.get("slices"), data.get("horizon_minutes")
        if slices is not None and horizon is None and "horizon_minutes" not in self.errors:
            self.add_error("horizon_minutes", "A TWAP order needs its horizon in minutes.")
        if horizon is not None and slices is None and "slices" not in self.errors:
            self.add_error("slices", "A TWAP order needs its number of slices.")
        if slices is not None and data.get("time_in_force") == TimeInForce.GTC:
            self.add_error("time_in_force", "TWAP slices are day orders.")
        return data


class OrderConfirmForm(OrderForm):
    """The confirmation step: the same order (hidden), the id that makes a double submit one order, a reason."""

    client_order_id = forms.RegexField(regex=r"^manual-[A-Za-z0-9\-]{8,100}$", max_length=120)
    reason = _reason_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("symbol", "side", "qty", "order_type", "limit_price", "time_in_force", "slices",
                     "horizon_minutes", "client_order_id"):
            self.fields[name].widget = forms.HiddenInput()


class ReasonForm(forms.Form):
    reason = _reason_field()


class CancelForm(ReasonForm):
    order_id = forms.IntegerField(min_value=1, error_messages={"required": "Choose the order to cancel."})


class KillSwitchEngageForm(ReasonForm):
    confirm = forms.CharField(max_length=20, label="Type ENGAGE to confirm",
                              widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != "ENGAGE":
            raise forms.ValidationError("Type the word ENGAGE (capital letters) to confirm.")
        return value


class ToggleForm(ReasonForm):
    enabled = forms.TypedChoiceField(choices=[("true", "on"), ("false", "off")], coerce=lambda v: v == "true")


class SymbolToggleForm(ToggleForm):
    symbol = forms.CharField(max_length=16)

    def clean_symbol(self) -> str:
        return self.cleaned_data["symbol"].strip().upper()


class OrdersFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "any status")] + OrderStatus.choices, required=False)
    side = forms.ChoiceField(choices=[("", "any side")] + Side.choices, required=False)
    source = forms.ChoiceField(choices=[("", "any source")] + OrderSource.choices, required=False)
    symbol = forms.CharField(max_length=16, required=False)
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))


class RunsFilterForm(forms.Form):
    mode = forms.ChoiceField(choices=[("", "any mode"), ("live", "live"), ("replay", "replay")], required=False)
    status = forms.ChoiceField(choices=[("", "any status"), ("running", "running"), ("completed", "completed"),
                                        ("failed", "failed")], required=False)


class AuditFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("actions", "Actions"), ("changes", "Model changes")], required=False)
    actor = forms.CharField(max_length=150, required=False, label="Actor (username)")
    action = forms.CharField(max_length=60, required=False, help_text="prefix, e.g. order. or kill_switch.")
    object_type = forms.CharField(max_length=60, required=False, label="Object type",
                                  help_text="app.model, e.g. orders.order")
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("'From' must not be after 'To'.")
        return data

    def filters(self) -> dict:
        d = self.cleaned_data
        return {"actor": d.get("actor", "").strip(), "action": d.get("action", "").strip(),
                "object_type": d.get("object_type", "").strip().lower(), "start": d.get("start"),
                "end": d.get("end")}


class AllocationForm(forms.Form):
    method = forms.ChoiceField(choices=[(m, m.replace("_", " ")) for m in METHODS], required=False)
    as_of = forms.DateField(required=False, label="As of", widget=forms.DateInput(attrs={"type": "date"}))


class ComplianceForm(forms.Form):
    KINDS = (("blotter", "Trade blotter (one day, CSV)"), ("form8949", "Form 8949 (one year, CSV)"),
             ("realized", "Realized gains (one year, CSV)"), ("compliance", "Compliance report (one month, CSV)"),
             ("compliance_json", "Compliance report (one month, JSON)"))
    kind = forms.ChoiceField(choices=KINDS)
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    year = forms.IntegerField(required=False, min_value=1990, max_value=2100)
    month = forms.RegexField(regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM",
                             widget=forms.TextInput(attrs={"placeholder": "YYYY-MM"}))

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        need = {"blotter": "day", "form8949": "year", "realized": "year", "compliance": "month",
                "compliance_json": "month"}.get(kind)
        if need and not data.get(need):
            self.add_error(need, f"Choose the {need} for this download.")
        return data
