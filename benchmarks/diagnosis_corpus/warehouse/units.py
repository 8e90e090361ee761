"""Weights and customs values on labels, in the units the site is configured for."""

WEIGHT_UNIT = "kg"
CUSTOMS_CURRENCY = "EUR"


def weight_label(grams):
    if WEIGHT_UNIT == "kg":
        return f"{grams / 1000:.1f} kg"
    return f"{grams / 453.6:.1f} lb"


def customs_value(cents):
    return f"{cents / 100:.2f} {CUSTOMS_CURRENCY}"
