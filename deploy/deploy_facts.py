#!/usr/bin/env python3
"""What deploy/check.sh runs, read from the deployment files themselves.

Usage: deploy_facts.py WHAT FILE, one of:
  docker-config Dockerfile
      the repository file the runtime stage copies to /etc/shmpool/shmpoold.toml
  docker-args Dockerfile
      the daemon's arguments (CMD after ENTRYPOINT shmpoold), one a line; fails unless
      they include --metrics-listen on a port the runtime stage EXPOSEs
  docker-client Dockerfile
      "UID GID" of the client container the header documents (docker run --user UID:GID)
  probes DAEMONSET_YAML
      every probe of the shmpoold container, one a line as "KIND ARG..." (tab-separated);
      fails unless each is an exec probe
  pod-identity DAEMONSET_YAML
      "UID GID GROUP,..." of the example application pod (runAsUser, runAsGroup,
      supplementalGroups)
"""
import json
import re
import sys

import yaml


def runtime_stage(path):
    lines = open(path).read().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    return lines[starts[-1]:]


def instruction(stage, name):
    return [line[len(name) + 1:].strip() for line in stage if line.startswith(name + " ")]


def docker_config(path):
    for args in instruction(runtime_stage(path), "COPY"):
        words = args.split()
        if words[-1] == "/etc/shmpool/shmpoold.toml" and not words[0].startswith("--from"):
            return words[0]
    sys.exit(f"{path}: the runtime stage copies no file to /etc/shmpool/shmpoold.toml")


def docker_args(path):
    stage = runtime_stage(path)
    entry = [json.loads(e) for e in instruction(stage, "ENTRYPOINT")]
    cmd = [json.loads(c) for c in instruction(stage, "CMD")]
    if not entry or entry[-1] != ["/usr/bin/shmpoold"] or not cmd:
        sys.exit(f"{path}: expected ENTRYPOINT [\"/usr/bin/shmpoold\"] and a CMD (JSON form)")
    args = cmd[-1]
    listen = None
    for i, a in enumerate(args):
        if a == "--metrics-listen" and i + 1 < len(args):
            listen = args[i + 1]
        elif a.startswith("--metrics-listen="):
            listen = a.split("=", 1)[1]
    exposed = {p.split("/")[0] for e in instruction(stage, "EXPOSE") for p in e.split()}
    if listen is None:
        sys.exit(f"{path}: EXPOSEs {sorted(exposed)} but CMD has no --metrics-listen")
    port = listen.rsplit(":", 1)[-1]
    if port not in exposed:
        sys.exit(f"{path}: --metrics-listen {listen} is not on an EXPOSEd port {sorted(exposed)}")
    if not listen.startswith("0.0.0.0:"):
        sys.exit(f"{path}: --metrics-listen {listen} is unreachable from outside the container")
    return args


def docker_client(path):
    m = re.search(r"docker run .*--user (\d+):(\d+)", open(path).read())
    if not m:
        sys.exit(f"{path}: its header documents no client container (docker run --user UID:GID)")
    return f"{m.group(1)} {m.group(2)}"


def docs(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


def probes(path):
    out = []
    for d in docs(path):
        if d.get("kind") != "DaemonSet":
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                if kind not in c:
                    continue
                probe = c[kind]
                if "exec" not in probe:
                    sys.exit(f"{path}: {c['name']}'s {kind} is not an exec probe: {probe}")
                out.append("\t".join([kind] + probe["exec"]["command"]))
    if not out:
        sys.exit(f"{path}: the DaemonSet has no probes")
    return out


def pod_identity(path):
    for d in docs(path):
        if d.get("kind") == "Pod":
            s = d["spec"]["securityContext"]
            groups = ",".join(str(g) for g in s.get("supplementalGroups", []))
            return f"{s['runAsUser']} {s['runAsGroup']} {groups}"
    sys.exit(f"{path}: no example Pod")


def main():
    what, path = sys.argv[1], sys.argv[2]
    out = {
        "docker-config": lambda: [docker_config(path)],
        "docker-args": lambda: docker_args(path),
        "docker-client": lambda: [docker_client(path)],
        "probes": lambda: probes(path),
        "pod-identity": lambda: [pod_identity(path)],
    }[what]()
    print("\n".join(out))


if __name__ == "__main__":
    main()
