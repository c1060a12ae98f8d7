#!/usr/bin/env python3
"""Validates packaging/kubernetes/*.yaml: YAML that parses, the objects each example promises,
and the keys issue 15 asks for (probes on /health and /ready, a preStop that drains, a grace
period longer than it, resources, a locked-down securityContext, config from a ConfigMap and
the userlist from a Secret). The ConfigMap's pooler.ini with the Secret's userlist.txt must
pass `sluice --check`.

usage: check_kubernetes.py SLUICE_BINARY KUBERNETES_DIR      exit 77 (skip) without PyYAML
"""
import os
import re
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("SKIP: python3 has no yaml module (Debian: apt-get install python3-yaml)")
    sys.exit(77)

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
    return condition


def get(node, *path, default=None):
    for key in path:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return default
    return node


def ini_value(ini, key):
    match = re.search(r"^\s*" + re.escape(key) + r"\s*=\s*(.*?)\s*$", ini, re.MULTILINE)
    return match.group(1) if match else None


def container_port(container, port):
    """The number a probe's or Service's port (a name or a number) means in `container`."""
    for entry in container.get("ports", []):
        if port in (entry.get("name"), entry.get("containerPort")):
            return entry.get("containerPort")
    return None


def check_security(where, container, pod_security):
    security = container.get("securityContext", {})
    non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
    check(non_root is True, f"{where}: runAsNonRoot must be true")
    user = security.get("runAsUser", pod_security.get("runAsUser"))
    check(isinstance(user, int) and user > 0, f"{where}: runAsUser must be a non-zero uid")
    check(security.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem must be true")
    check(security.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation must be false")
    check("ALL" in (get(security, "capabilities", "drop") or []), f"{where}: capabilities must drop ALL")
    check(not get(security, "capabilities", "add"), f"{where}: no capabilities may be added")


def check_sluice_container(where, container, pod, objects, binary):
    check(container.get("image"), f"{where}: no image")
    liveness = get(container, "livenessProbe", "httpGet") or {}
    readiness = get(container, "readinessProbe", "httpGet") or {}
    check(liveness.get("path") == "/health", f"{where}: livenessProbe must GET /health")
    check(readiness.get("path") == "/ready", f"{where}: readinessProbe must GET /ready")
    pre_stop = get(container, "lifecycle", "preStop", "exec", "command")
    grace = pod.get("terminationGracePeriodSeconds")
    check(isinstance(grace, int) and grace >= 30, f"{where}: terminationGracePeriodSeconds must be set (>= 30)")
    if check(isinstance(pre_stop, list) and pre_stop, f"{where}: lifecycle.preStop.exec.command missing"):
        script = " ".join(pre_stop)
        # SIGINT: stop accepting, exit when no transaction is in progress.
        check("kill -INT 1" in script, f"{where}: preStop must send Sluice SIGINT (finish transactions)")
        drain = None
        for env in container.get("env", []):
            if env.get("name") == "DRAIN_SECONDS":
                drain = int(env.get("value"))
        match = re.search(r"sleep \"?\$\{DRAIN_SECONDS:-(\d+)\}", script)
        if drain is None and match:
            drain = int(match.group(1))
        if check(drain is not None, f"{where}: preStop's drain time unknown"):
            check(isinstance(grace, int) and grace >= drain + 30,
                  f"{where}: terminationGracePeriodSeconds {grace} leaves < 30 s after a {drain} s drain")
    resources = container.get("resources", {})
    check(get(resources, "requests", "cpu") and get(resources, "requests", "memory"),
          f"{where}: resources.requests needs cpu and memory")
    check(get(resources, "limits", "memory"), f"{where}: resources.limits needs memory")
    check_security(where, container, pod.get("securityContext", {}))

    # Config: /etc/sluice from a ConfigMap (pooler.ini) and a Secret (userlist.txt) of this file.
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    files = {}
    sources = []
    for path, mount in mounts.items():
        volume = volumes.get(mount["name"], {})
        if "projected" in volume:
            sources += [(path, s) for s in volume["projected"].get("sources", [])]
        else:
            sources.append((path, volume))
    for path, source in sources:
        if "configMap" in source:
            name = source["configMap"]["name"]
            config_map = objects.get(("ConfigMap", name))
            if check(config_map, f"{where}: ConfigMap {name} is not in the file"):
                for key, text in config_map.get("data", {}).items():
                    files[os.path.join(path, key)] = ("ConfigMap", text)
        if "secret" in source:
            name = source["secret"].get("name") or source["secret"].get("secretName")
            secret = objects.get(("Secret", name))
            if check(secret, f"{where}: Secret {name} is not in the file"):
                for key, text in secret.get("stringData", {}).items():
                    files[os.path.join(path, key)] = ("Secret", text)
    args = container.get("args", []) + container.get("command", [])
    ini_path = next((a for a in args if a.endswith(".ini")), "/etc/sluice/pooler.ini")
    if not check(files.get(ini_path, ("",))[0] == "ConfigMap", f"{where}: {ini_path} does not come from a ConfigMap"):
        return
    ini = files[ini_path][1]
    auth_file = ini_value(ini, "auth_file")
    check(files.get(auth_file, ("",))[0] == "Secret", f"{where}: auth_file {auth_file} does not come from a Secret")
    check(container_port(container, liveness.get("port")) == int(ini_value(ini, "http_listen_port") or 0),
          f"{where}: the probes' port is not http_listen_port")
    check(container_port(container, "postgres") == int(ini_value(ini, "listen_port") or 6432),
          f"{where}: the 'postgres' port is not listen_port")

    # What Sluice itself says of the configuration, with the files where the pod has them.
    with tempfile.TemporaryDirectory() as tmp:
        mapped = {}
        for path, (_, text) in files.items():
            local = os.path.join(tmp, os.path.basename(path))
            mapped[path] = local
            with open(local, "w") as out:
                out.write(text)
        local_ini = mapped[ini_path]
        text = ini
        for path, local in mapped.items():
            text = text.replace(path, local)
        with open(local_ini, "w") as out:
            out.write(text)
        run = subprocess.run([binary, "--check", local_ini], capture_output=True, text=True, timeout=30)
        check(run.returncode == 0 and "WARNING" not in run.stderr,
              f"{where}: sluice --check of the ConfigMap's pooler.ini: {run.stdout}{run.stderr}")


def check_file(path, binary):
    with open(path) as f:
        documents = [d for d in yaml.safe_load_all(f) if d is not None]
    objects = {}
    for doc in documents:
        check(doc.get("apiVersion") and doc.get("kind") and get(doc, "metadata", "name"),
              f"{path}: a document without apiVersion, kind or metadata.name")
        objects[(doc.get("kind"), get(doc, "metadata", "name"))] = doc
    deployments = [d for d in documents if d.get("kind") == "Deployment"]
    check(deployments, f"{path}: no Deployment")
    for deployment in deployments:
        where = f"{os.path.basename(path)}: Deployment {deployment['metadata']['name']}"
        check(deployment.get("apiVersion") == "apps/v1", f"{where}: apiVersion must be apps/v1")
        selector = get(deployment, "spec", "selector", "matchLabels") or {}
        labels = get(deployment, "spec", "template", "metadata", "labels") or {}
        check(selector and all(labels.get(k) == v for k, v in selector.items()),
              f"{where}: selector does not match the template's labels")
        pod = get(deployment, "spec", "template", "spec") or {}
        containers = pod.get("containers", [])
        sluice = [c for c in containers if c.get("name") == "sluice"]
        if check(len(sluice) == 1, f"{where}: needs exactly one container named sluice"):
            check_sluice_container(f"{where}: container sluice", sluice[0], pod, objects, binary)
        for other in containers:
            if other.get("name") != "sluice":
                check_security(f"{where}: container {other.get('name')}", other, pod.get("securityContext", {}))
        for service in (d for d in documents if d.get("kind") == "Service"):
            service_selector = get(service, "spec", "selector") or {}
            if all(labels.get(k) == v for k, v in service_selector.items()):
                for port in get(service, "spec", "ports") or []:
                    check(any(container_port(c, port.get("targetPort", port.get("port"))) for c in containers),
                          f"{path}: Service {service['metadata']['name']} port {port.get('name')} has no container port")
    return {doc.get("kind") for doc in documents}, deployments


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, directory = sys.argv[1], sys.argv[2]
    kinds, deployments = check_file(os.path.join(directory, "sidecar.yaml"), binary)
    check({"ConfigMap", "Secret", "Deployment"} <= kinds, f"sidecar.yaml: needs a ConfigMap, a Secret and a Deployment")
    for deployment in deployments:
        check(len(get(deployment, "spec", "template", "spec", "containers")) >= 2,
              "sidecar.yaml: the Deployment needs an application container beside sluice")
    kinds, _ = check_file(os.path.join(directory, "standalone.yaml"), binary)
    check({"ConfigMap", "Secret", "Deployment", "Service"} <= kinds,
          "standalone.yaml: needs a ConfigMap, a Secret, a Deployment and a Service")
    for failure in failures:
        print("FAIL:", failure)
    if not failures:
        print("kubernetes examples: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
