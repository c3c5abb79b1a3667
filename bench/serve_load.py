"""A bounded load on the REST server over loopback: throughput, p50/p99 latency and errors.

    python bench/serve_load.py [--requests 2000] [--clients 4] [--batch 1] [--repo FOLDER] [--model-dir DIR]

Run after `dvc repro export`, inside the environment. It starts the project's `python -m stages.serve`
(this checkout's, or --repo's) on a free port with models/export, sends the requests (raw test examples, `--batch` instances per
request) from `--clients` threads over keep-alive connections, checks that every answer has
one prediction per instance, and stops the server. Goal: zero errors; it exits 1 on any.
`--model-dir` serves another export instead, with random instances of its signature's form.
With UWF_BENCH_TINY=1 (see clone.py) it sends 100 requests from 2 clients; the figures then mean nothing.
"""
import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml
from clone import ROOT, tiny

sys.path.insert(0, str(ROOT))
from stages.lib import paths  # noqa: E402
from stages.lib.export import as_instances, raw_batch  # noqa: E402
from stages.lib.kinds import kind_of, read_raw  # noqa: E402
from stages.lib.serving import free_port, wait_until_serving  # noqa: E402
from stages.lib.splitting import read_split  # noqa: E402


def raw_test_instances(repo: Path, signature: dict) -> list:
    """The raw test examples as the JSON instances a client sends."""
    x, _ = read_raw(repo / paths.RAW_DIR)
    kind = kind_of(json.loads((repo / paths.RAW_MANIFEST).read_text()))
    test = read_split(repo)["test"]
    return as_instances(raw_batch(kind.take(x, test), signature["input"]), signature["input"])


def random_instances(spec: dict, count: int = 50) -> list:
    """`count` random instances of the form the signature's input `spec` takes."""
    rng = random.Random(0)

    def pixels(shape):
        return [pixels(shape[1:]) for _ in range(shape[0])] if shape else round(rng.uniform(0, 16), 2)

    def row():
        categories = spec.get("categories", {})
        return {c["column"]: rng.gauss(0, 1) if c["dtype"] == "float32" else
                rng.choice(categories.get(c["column"], ["missing"])) for c in spec["columns"]}

    make = {"tokens": lambda: [rng.randint(1, spec["max_token"]) for _ in range(rng.randint(1, 200))],
            "text": lambda: " ".join(rng.choice(["good", "bad", "film", "plot"]) for _ in range(rng.randint(1, 200))),
            "columns": row}.get(spec["name"], lambda: pixels(spec["shape"]))
    return [make() for _ in range(count)]


def bodies(inputs: list, batch: int, count: int) -> list:
    """`count` request bodies of `batch` instances each, cycling through `inputs`."""
    return [json.dumps({"instances": [inputs[(i * batch + j) % len(inputs)] for j in range(batch)]})
            for i in range(count)]


def client(port, path, work, batch, latencies, errors) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in work:
        start = time.perf_counter()
        try:
            connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            ok = response.status == 200 and len(json.loads(payload)["predictions"]) == batch
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            ok = False
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append(time.perf_counter() - start)
        if not ok:
            errors.append(body[:80])
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1, help="instances per request")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the project folder (default: this checkout)")
    parser.add_argument("--model-dir", type=Path, help="another export to serve, with random instances")
    args = parser.parse_args()
    if tiny():
        args.requests, args.clients = 100, 2
    repo = args.repo.resolve()
    folder = (args.model_dir or repo / paths.EXPORT_DIR).resolve()
    if not (folder / "signature.json").is_file():
        sys.exit(f"{folder} holds no exported model: run `dvc repro export` first, or give --model-dir")
    signature = json.loads((folder / "signature.json").read_text())
    name = yaml.safe_load((repo / "params.yaml").read_text())["export"]["model_name"]  # what the server answers to
    inputs = random_instances(signature["input"]) if args.model_dir else raw_test_instances(repo, signature)
    work = bodies(inputs, args.batch, args.requests)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "stages.serve", "--port", str(port), "--model-dir", str(folder)],
                              cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        if not wait_until_serving(port, name, timeout=120):
            sys.exit(f"error: the server did not start: {server.communicate(timeout=5)[1][-1000:]}")
        latencies, errors = [], []
        threads = [threading.Thread(target=client, args=(port, f"/v1/models/{name}:predict",
                                                         work[k::args.clients], args.batch, latencies, errors))
                   for k in range(args.clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"{args.requests} requests of {args.batch} instance(s), {args.clients} concurrent clients, loopback: "
          f"{args.requests / elapsed:.0f} requests/s, p50 {statistics.median(ordered) * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms, errors {len(errors)}")
    if errors:
        sys.exit(f"error: {len(errors)} request(s) failed, the first: {errors[0]}")


if __name__ == "__main__":
    main()
