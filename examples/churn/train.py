"""Train a logistic churn model with plain gradient descent; parameters come from env vars."""
import csv
import json
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, "utils")
from scoring import predict  # noqa: E402

learning_rate = float(os.environ.get("LEARNING_RATE", "0.1"))
epochs = int(os.environ.get("EPOCHS", "20"))
seed = int(os.environ.get("SEED", "42"))
log_level = os.environ.get("LOG_LEVEL", "INFO")
print(f"learning_rate={learning_rate} epochs={epochs} seed={seed} log_level={log_level}")

with open("data/dataset.csv") as f:
    rows = [(float(r["tenure"]), float(r["monthly_charges"]), int(r["churn"])) for r in csv.DictReader(f)]

model = {"bias": 0.0, "w_tenure": 0.0, "w_charges": 0.0}
rng = random.Random(seed)
for epoch in range(epochs):
    rng.shuffle(rows)
    loss = 0.0
    for tenure, charges, label in rows:
        p = predict(model, tenure, charges)
        error = p - label
        model["bias"] -= learning_rate * error
        model["w_tenure"] -= learning_rate * error * tenure / 72
        model["w_charges"] -= learning_rate * error * charges / 120
        loss += error * error
    if log_level == "DEBUG" or epoch == epochs - 1:
        print(f"epoch {epoch + 1}/{epochs} loss={loss / len(rows):.4f}")

Path("model").mkdir(exist_ok=True)
Path("model/model.json").write_text(json.dumps(model, indent=2))
print("wrote model/model.json")
