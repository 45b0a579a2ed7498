"""Fits y ~ x, logs params and metrics to this stage's tracking run and
writes model/model.json and metrics.json.

Logging goes through MLFLOW_TRACKING_URI / MLFLOW_RUN_ID, which `loopml run`
sets for every stage: with the mlflow package when it is installed, else
with the MLflow REST API over urllib (standard library only)."""
import csv
import json
import os
import time
import urllib.request

fit_intercept = os.environ.get("LOOPML_PARAM_TRAIN_FIT_INTERCEPT", "true").lower() == "true"
with open("data/points.csv") as f:
    rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
xs, ys = [r[0] for r in rows], [r[1] for r in rows]

try:
    from sklearn.linear_model import LinearRegression  # Debian: python3-sklearn

    m = LinearRegression(fit_intercept=fit_intercept).fit([[x] for x in xs], ys)
    slope, intercept, how = float(m.coef_[0]), float(m.intercept_), "sklearn"
except ImportError:
    print("scikit-learn is not installed: fitting with the standard library")
    n = len(xs)
    mx, my = (sum(xs) / n, sum(ys) / n) if fit_intercept else (0.0, 0.0)
    slope = sum((x - mx) * (y - my) for x, y in rows) / sum((x - mx) ** 2 for x in xs)
    intercept, how = my - slope * mx, "stdlib"

pred = [slope * x + intercept for x in xs]
mse = sum((p - y) ** 2 for p, y in zip(pred, ys)) / len(ys)
mean = sum(ys) / len(ys)
r2 = 1 - sum((p - y) ** 2 for p, y in zip(pred, ys)) / sum((y - mean) ** 2 for y in ys)
print(f"{how}: y = {slope:.3f} x + {intercept:.3f}, mse {mse:.4f}, r2 {r2:.4f}")

os.makedirs("model", exist_ok=True)
with open("model/model.json", "w") as f:
    json.dump({"slope": slope, "intercept": intercept, "fitted_with": how}, f)
with open("metrics.json", "w") as f:
    json.dump({"r2": r2}, f)  # loopml logs this file's numbers as metrics

# Log into the stage's run, as any MLflow client code would.
try:
    import mlflow

    with mlflow.start_run():  # resumes MLFLOW_RUN_ID
        mlflow.log_param("fitted_with", how)
        mlflow.log_metric("mse", mse)
except ImportError:
    uri, run_id = os.environ["MLFLOW_TRACKING_URI"].rstrip("/"), os.environ["MLFLOW_RUN_ID"]

    def call(method, body):
        req = urllib.request.Request(f"{uri}/api/2.0/mlflow/runs/{method}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()

    call("log-parameter", {"run_id": run_id, "key": "fitted_with", "value": how})
    call("log-metric", {"run_id": run_id, "key": "mse", "value": mse, "timestamp": int(time.time() * 1000), "step": 0})
print("logged to run", os.environ["MLFLOW_RUN_ID"])
