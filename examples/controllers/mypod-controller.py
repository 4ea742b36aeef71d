#!/usr/bin/env python3
"""A control loop as a user writes one against Kubernetes: keep N pods labelled name=mypod in the default
namespace, by counting them, deleting the extras and creating the missing. Only the standard library, and only
the API's plain JSON over HTTP, so it runs against kctl as it does against Kubernetes (kubectl proxy's port).

    examples/controllers/mypod-controller.py [--api http://localhost:8080] [--replicas 3] [--iterations N]
"""
import argparse
import json
import time
import urllib.error
import urllib.request

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"generateName": "mypod-", "labels": {"name": "mypod"}},
    "spec": {"containers": [{"name": "web", "image": "kctl/busybox",
                             "command": ["httpd", "-f", "-p", "80", "-h", "/"]}]},
}


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def reconcile(api, replicas):
    pods_url = api + "/api/v1/namespaces/default/pods"
    pods = call("GET", pods_url + "?labelSelector=name%3Dmypod")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    for pod in live[replicas:]:
        try:
            call("DELETE", pods_url + "/" + pod["metadata"]["name"])
        except urllib.error.HTTPError as e:
            if e.code != 404:  # someone else deleted it first
                raise
    for _ in range(replicas - len(live)):
        call("POST", pods_url, POD)
    return len(live)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://localhost:8080")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=0, help="stop after this many rounds (0: never)")
    args = parser.parse_args()
    done = 0
    while args.iterations == 0 or done < args.iterations:
        seen = reconcile(args.api, args.replicas)
        print(f"saw {seen} pods, want {args.replicas}", flush=True)
        done += 1
        time.sleep(1)


if __name__ == "__main__":
    main()
