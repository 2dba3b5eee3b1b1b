"""Writes which object storage credentials this node's code sees."""
import json
import os

os.makedirs("out", exist_ok=True)
with open(os.path.join("out", os.environ["WHO"] + ".json"), "w") as fh:
    json.dump({name: os.environ.get(name) for name in
               ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT")}, fh)
