"""A bounded load on the REST server over loopback: throughput, p50/p99 latency and errors.

    python bench/serve_load.py [--requests 2000] [--clients 4] [--batch 1]

Run after `dvc repro export`, inside the environment. It starts `python -m stages.serve` on a
free port with models/export, sends the requests (raw test examples, `--batch` instances per
request) from `--clients` threads over keep-alive connections, checks that every answer has
one prediction per instance, and stops the server. Goal: zero errors.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from clone import ROOT

sys.path.insert(0, str(ROOT))
from stages.lib import paths  # noqa: E402
from stages.lib.artifacts import read_raw, take  # noqa: E402
from stages.lib.export import as_instances, raw_batch  # noqa: E402
from stages.lib.serving import free_port, wait_until_serving  # noqa: E402


def bodies(signature: dict, batch: int, count: int) -> list:
    """`count` request bodies of `batch` raw test examples each, cycling through the test split."""
    x, _ = read_raw(ROOT / paths.RAW_DIR)
    test = json.loads((ROOT / paths.SPLIT).read_text())["test"]
    inputs = as_instances(raw_batch(take(x, test), signature["input"]), signature["input"])
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
    args = parser.parse_args()
    signature = json.loads((ROOT / paths.EXPORT_DIR / "signature.json").read_text())
    name = signature["model_name"]
    work = bodies(signature, args.batch, args.requests)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "stages.serve", "--port", str(port)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)},
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


if __name__ == "__main__":
    main()
