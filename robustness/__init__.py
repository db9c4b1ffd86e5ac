"""The universal law of robustness [BS]: trained networks, certified Lipschitz brackets, the law."""
