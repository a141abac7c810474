"""The deployment files are loaded and checked: the k8s manifests against Kubernetes' own JSON
schemas (strict: an unknown field fails) and against what the platform needs of them; the
alert rules and the dashboard against the metrics the platform really exports, and with
promtool (`check rules`, `test rules`) where it is installed (`make tools`)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "consult.json"
RUNBOOK = ROOT / "docs" / "operations.md"
# The oldest Kubernetes these manifests promise to run on, and the newest we know of.
K8S_VERSIONS = ["1.29.0", "1.37.0"]


def documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((path.name, doc))
    return found


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def promtool() -> str | None:
    local = ROOT / ".tools" / "bin" / "promtool"
    return (
        os.environ.get("PROMTOOL")
        or (str(local) if local.exists() else None)
        or (shutil.which("promtool"))
    )


@pytest.fixture(scope="module")
def exported(django_db_setup, django_db_blocker) -> set[str]:
    """Every metric name `/metrics` shows (the database figures included)."""
    from prometheus_client.parser import text_string_to_metric_families

    from config import metrics

    with django_db_blocker.unblock():
        text = metrics.render().decode()
    families = list(text_string_to_metric_families(text))
    names = {sample.name for family in families for sample in family.samples}
    # A labelled metric with no child yet (no HTTP answer so far) shows its family only.
    names |= {family.name + "_total" for family in families if family.type == "counter"}
    names |= {
        family.name + suffix
        for family in families
        if family.type == "histogram"
        for suffix in ("_bucket", "_count", "_sum")
    }
    return names | {family.name for family in families}


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(consult_[a-z_]+)\b", expr))


# --- Kubernetes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_is_valid_kubernetes(version):
    import kubernetes_validate

    docs = documents()
    assert len(docs) >= 10
    for name, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']}: {error.message}")


def test_it_has_every_piece_a_deployment_needs():
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in documents()}
    for needed in [
        ("Deployment", "consult-web"),
        ("HorizontalPodAutoscaler", "consult-web"),
        ("Service", "consult-web"),
        ("Ingress", "consult-web"),
        ("Deployment", "consult-worker"),
        ("Deployment", "consult-beat"),
        ("Job", "consult-migrate"),
        ("ConfigMap", "consult-config"),
        ("Secret", "consult-secrets"),
    ]:
        assert needed in kinds, needed


def test_every_deployment_selects_its_own_pods():
    for name, deployment in by_kind("Deployment").items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name


def test_web_is_ready_on_healthz_and_scaled_by_the_autoscaler():
    web = by_kind("Deployment")["consult-web"]
    (daphne,) = [c for c in web["spec"]["template"]["spec"]["containers"] if c["name"] == "daphne"]
    assert daphne["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert daphne["command"][:3] == ["python", "-m", "config.serve"]  # daphne on uvloop
    assert "config.asgi:application" in daphne["command"]
    # The probes and Prometheus reach the pod by its IP: it must be an allowed host.
    env = {item["name"]: item for item in daphne["env"]}
    assert "$(POD_IP)" in env["ALLOWED_HOSTS"]["value"]
    hpa = by_kind("HorizontalPodAutoscaler")["consult-web"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "consult-web",
    }
    assert hpa["spec"]["minReplicas"] >= 2  # one pod lost keeps sockets served


def test_the_ingress_and_service_carry_websockets_to_the_web_pods():
    service = by_kind("Service")["consult-web"]
    web = by_kind("Deployment")["consult-web"]
    assert service["spec"]["selector"].items() <= (
        web["spec"]["template"]["metadata"]["labels"].items()
    )
    ingress = by_kind("Ingress")["consult-web"]
    (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == "/" and path["pathType"] == "Prefix"  # /ws/ included
    assert path["backend"]["service"]["name"] == "consult-web"
    annotations = ingress["metadata"]["annotations"]
    # An idle socket outlives the proxy's default 60 s read timeout.
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert (
        "location = /metrics { return 404; }"
        in annotations["nginx.ingress.kubernetes.io/server-snippet"]
    )


def test_beat_runs_exactly_once_even_during_a_rollout():
    beat = by_kind("Deployment")["consult-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert "consult-beat" not in by_kind("HorizontalPodAutoscaler")
    (container,) = beat["spec"]["template"]["spec"]["containers"]
    assert "beat" in container["command"]


def test_workers_serve_their_metrics_beside_them():
    worker = by_kind("Deployment")["consult-worker"]
    containers = {c["name"]: c for c in worker["spec"]["template"]["spec"]["containers"]}
    assert "worker" in containers["worker"]["command"]
    assert containers["metrics"]["command"][:3] == ["python", "-m", "config.metrics_server"]
    mounts = {name: {m["mountPath"] for m in c["volumeMounts"]} for name, c in containers.items()}
    assert "/run/metrics" in mounts["worker"] & mounts["metrics"]


def test_migrations_run_as_a_job():
    job = by_kind("Job")["consult-migrate"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_every_setting_in_the_configmap_and_secret_is_one_the_platform_reads():
    settings_source = (ROOT / "config" / "settings.py").read_text() + (
        ROOT / "config" / "deploy.py"
    ).read_text()
    keys = set(by_kind("ConfigMap")["consult-config"]["data"])
    keys |= set(by_kind("Secret")["consult-secrets"]["stringData"])
    keys -= {"PUBLIC_HOST"}  # the manifests' own: ALLOWED_HOSTS is built from it
    keys -= {"PROMETHEUS_MULTIPROC_DIR"}  # read by prometheus-client itself
    for key in sorted(keys):
        assert f'"{key}"' in settings_source, f"{key} is not read by config/settings.py"
    data = by_kind("ConfigMap")["consult-config"]["data"]
    assert data["DEBUG"] == "0"
    # TLS ends at the ingress: without a trusted proxy the HTTPS redirect would loop.
    assert data["TRUSTED_PROXY_COUNT"] == "1"


def test_the_secret_template_holds_no_real_secret():
    for key, value in by_kind("Secret")["consult-secrets"]["stringData"].items():
        assert value.startswith("REPLACE"), key


def test_every_pod_reads_the_configmap_and_the_secret():
    pods = [d["spec"]["template"]["spec"] for d in by_kind("Deployment").values()]
    pods += [j["spec"]["template"]["spec"] for j in by_kind("Job").values()]
    for pod in pods:
        for container in pod["containers"]:
            sources = {
                (s.get("configMapRef") or s.get("secretRef"))["name"] for s in container["envFrom"]
            }
            assert sources == {"consult-config", "consult-secrets"}, container["name"]


# --- Prometheus and Grafana -----------------------------------------------------------------------


def rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]


def test_the_alerts_the_issue_asks_for_are_there():
    names = {rule["alert"] for rule in rules()}
    assert {
        "ConsultBillingLagHigh",  # billing lag above two ticks
        "ConsultLedgerNotClean",
        "ConsultErrorRateHigh",
        "ConsultBillingTickMissing",  # no tick for a minute
        "ConsultRedisDown",
        "ConsultDatabaseDown",
    } <= names


def test_every_alert_is_complete_and_explained_in_the_runbook():
    runbook = RUNBOOK.read_text().lower()
    for rule in rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert'].lower()}" in runbook, f"{rule['alert']} not in the runbook"


@pytest.mark.django_db
def test_alerts_and_panels_read_only_metrics_the_platform_exports(exported):
    exprs = [rule["expr"] for rule in rules()]
    exprs += [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    for expr in exprs:
        for name in metric_names(expr):
            assert name in exported, f"{name} (in {expr!r}) is not exported"


def test_the_dashboard_is_a_grafana_dashboard():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["type"] in {"stat", "timeseries", "gauge", "table"}
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in ["billing lag", "active consultations", "sockets", "ledger", "errors"]:
        assert topic in titles, topic


@pytest.mark.skipif(promtool() is None, reason="promtool is not installed (make tools)")
def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    tool = promtool()
    checked = subprocess.run(  # noqa: S603 - promtool with our files
        [tool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(  # noqa: S603
        [tool, "test", "rules", "alerts.test.yml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.skipif(promtool() is None, reason="promtool is not installed (make tools)")
def test_promtool_parses_every_panel_query(tmp_path):
    panels = json.loads(DASHBOARD.read_text())["panels"]
    records = [
        {"record": f"dashboard:panel_{p['id']}_{t['refId'].lower()}", "expr": t["expr"]}
        for p in panels
        for t in p["targets"]
    ]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    checked = subprocess.run(  # noqa: S603
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
