"""Tiny logistic model shared by the train script and the evaluate notebook (a node dependency)."""
import math


def predict(model, tenure, charges):
    """Churn probability for one customer."""
    z = model["bias"] + model["w_tenure"] * tenure / 72 + model["w_charges"] * charges / 120
    return 1 / (1 + math.exp(-z))
