"""A tiny 'training' whose metrics follow from its env vars, so a sweep's ranking is known."""
import json
import os
import sys

lr = float(os.environ["LR"])
epochs = int(os.environ["EPOCHS"])
if epochs <= 0:
    sys.exit(f"EPOCHS must be positive, got {epochs}")
loss = (lr - 0.1) ** 2 + 1.0 / epochs + (0.05 if os.environ["OPTIMIZER"] == "sgd" else 0.0)
print(f"lr={lr} epochs={epochs} loss={loss:.6f}")
with open("mlpipeline-metrics.json", "w") as fh:
    json.dump({"metrics": [{"name": "loss", "numberValue": round(loss, 6), "format": "RAW"},
                           {"name": "accuracy", "numberValue": round(1 - loss / 2, 6), "format": "PERCENTAGE"}]}, fh)
