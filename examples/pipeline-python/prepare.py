"""Writes data/points.csv: y = 3x + 2 + noise, from the stage's params."""
import csv
import os
import random

rows = int(os.environ["LOOPML_PARAM_DATA_ROWS"])
noise = float(os.environ["LOOPML_PARAM_DATA_NOISE"])
rng = random.Random(int(os.environ["LOOPML_PARAM_DATA_SEED"]))
os.makedirs("data", exist_ok=True)
with open("data/points.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["x", "y"])
    for _ in range(rows):
        x = rng.uniform(0, 10)
        w.writerow([f"{x:.6f}", f"{3 * x + 2 + rng.gauss(0, noise):.6f}"])
print(f"wrote {rows} points")
