"""The Helm chart renders (default and every option) to manifests valid for Kubernetes.

Rendering uses Helm's own engine (helm-python-sdk binds the Helm Go SDK; no cluster is
contacted); each manifest is validated against the Kubernetes OpenAPI schemas bundled in
kubernetes-validate, strictly (an unknown field is an error). The Prometheus Operator's
ServiceMonitor has no bundled schema and is checked structurally.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from bot.settings import BotSettings
from diagnostics.settings import load_settings
from tests.deploy.tools import ROOT, module

CHART = ROOT / "deploy" / "helm" / "migrate-diag"
FULL = CHART / "ci" / "full-values.yaml"
KUBERNETES = (
    "1.30.0"  # the oldest Kubernetes still in upstream support when this was written
)
NAMESPACE = "ops"
Manifests = dict[str, list[dict[str, Any]]]  # kind -> documents


def render(values: dict[str, Any] | None = None) -> Manifests:
    helm = module("helm_python")
    with helm.Chart.load(str(CHART)) as chart:
        rendered = chart.render(values or {}, name="md", namespace=NAMESPACE)
    by_kind: Manifests = {}
    for path, text in rendered.items():
        if not path.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        for doc in yaml.safe_load_all(text):
            if doc:
                by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def full_values() -> dict[str, Any]:
    return yaml.safe_load(FULL.read_text())


@pytest.fixture(scope="module")
def default() -> Manifests:
    return render()


@pytest.fixture(scope="module")
def full() -> Manifests:
    return render(full_values())


def one(manifests: Manifests, kind: str) -> dict[str, Any]:
    (doc,) = manifests[kind]
    return doc


def container(manifests: Manifests) -> dict[str, Any]:
    (main,) = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    return main


def bot_config(manifests: Manifests, tmp_path: Path) -> BotSettings:
    path = tmp_path / "migrate-diag.yaml"
    path.write_text(one(manifests, "ConfigMap")["data"]["migrate-diag.yaml"])
    return load_settings(path, BotSettings)


@pytest.mark.parametrize("which", ["default", "full"])
def test_every_manifest_is_valid_kubernetes(
    which: str, request: pytest.FixtureRequest
) -> None:
    """Each rendered object validates strictly against the Kubernetes schemas."""
    validate = module("kubernetes_validate")
    manifests: Manifests = request.getfixturevalue(which)
    kinds = set(manifests)
    expected = {"ConfigMap", "Deployment", "PodDisruptionBudget", "Role", "RoleBinding"}
    assert expected | {"Service", "ServiceAccount"} <= kinds
    for kind, docs in manifests.items():
        if kind == "ServiceMonitor":
            continue  # a CRD: structural test below
        for doc in docs:
            validate.validate(doc, KUBERNETES, strict=True)


def test_a_schema_violation_is_caught(default: Manifests) -> None:
    """The validation above can fail: a misspelt field is refused."""
    validate = module("kubernetes_validate")
    broken = yaml.safe_load(yaml.safe_dump(one(default, "Deployment")))
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesytem"] = True
    with pytest.raises(validate.ValidationError):
        validate.validate(broken, KUBERNETES, strict=True)


def test_helm_lint_is_clean() -> None:
    """`helm lint --strict` finds no warning or error, with defaults and with every option."""
    helm = module("helm_python")
    for values in ({}, full_values()):
        report = helm.lint(str(CHART), values, strict=True)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert report["errors"] == [], report
        assert problems == [], report


@pytest.mark.parametrize("which", ["default", "full"])
def test_the_bot_accepts_the_rendered_config(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The ConfigMap is a migrate-diag.yaml the bot's strict settings load."""
    settings = bot_config(request.getfixturevalue(which), tmp_path)
    assert settings.health.host == "0.0.0.0"  # probes come from the kubelet


def test_pod_is_locked_down(full: Manifests, default: Manifests) -> None:
    """Non-root, read-only root, no capabilities, no escalation, limits set."""
    for manifests in (default, full):
        pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        main = container(manifests)
        ctx = main["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert {"cpu", "memory"} <= set(main["resources"]["limits"])
        assert {"cpu", "memory"} <= set(main["resources"]["requests"])
        writable = {
            m["mountPath"] for m in main["volumeMounts"] if not m.get("readOnly")
        }
        assert writable == {"/var/lib/migrate-diag", "/tmp"}


@pytest.mark.parametrize("which", ["default", "full"])
def test_probes_hit_health_and_ready_on_the_configured_port(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Liveness GET /healthz, readiness GET /readyz, on the port the bot serves them (health.port)."""
    manifests = request.getfixturevalue(which)
    port = bot_config(manifests, tmp_path).health.port
    main = container(manifests)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports["health"] == port
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["MIGRATE_DIAG_HEALTH_PORT"] == str(
        port
    )  # the image's HEALTHCHECK reads it


def test_role_grants_exactly_what_step_4_needs(full: Manifests) -> None:
    """get/list pods and get pods/log, in the region namespace, for the bot's ServiceAccount."""
    role = one(full, "Role")
    assert role["metadata"]["namespace"] == "pcd-region-east"
    rules = {
        (tuple(r["apiGroups"]), tuple(r["resources"])): sorted(r["verbs"])
        for r in role["rules"]
    }
    assert rules == {
        (("",), ("pods",)): ["get", "list"],
        (("",), ("pods/log",)): ["get"],
    }
    binding = one(full, "RoleBinding")
    assert binding["metadata"]["namespace"] == "pcd-region-east"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    account = one(full, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": NAMESPACE}
    ]
    pod = one(full, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]
    assert "ClusterRole" not in full
    assert "ClusterRoleBinding" not in full


def test_saas_needs_no_kubernetes_api() -> None:
    """With the management plane run by Platform9, no Role is created and no token is mounted."""
    manifests = render({"config": {"deployment": {"mode": "saas"}}})
    assert "Role" not in manifests
    assert "RoleBinding" not in manifests
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert one(manifests, "ServiceAccount")["automountServiceAccountToken"] is False


def test_secrets_are_referenced_never_rendered(full: Manifests) -> None:
    """No Secret object and no secret value: tokens come from existing Secrets by reference."""
    assert "Secret" not in full
    main = container(full)
    assert [s["secretRef"]["name"] for s in main["envFrom"]] == [
        "migrate-diag-slack",
        "migrate-diag-intake",
    ]
    assert {e["name"] for e in main["env"]} == {
        "MIGRATE_DIAG_CONFIG",
        "MIGRATE_DIAG_HEALTH_PORT",
    }
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert defaults["envFromSecrets"] == []
    assert defaults["ssh"]["existingSecret"] == ""


def test_ssh_key_known_hosts_and_config_come_from_the_secret(
    full: Manifests, tmp_path: Path
) -> None:
    """The paths the bot reads (ssh.key_file, known_hosts, config_file) are the Secret's items."""
    settings = bot_config(full, tmp_path)
    main = container(full)
    volumes = {
        v["name"]: v
        for v in one(full, "Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    files: dict[str, str] = {}
    for mount in main["volumeMounts"]:
        source = volumes[mount["name"]].get("secret")
        if source:
            assert mount["readOnly"] is True
            for item in source["items"]:
                files[str(PurePosixPath(mount["mountPath"]) / item["path"])] = (
                    f"{source['secretName']}:{item['key']}"
                )
    assert files[str(settings.ssh.key_file)] == "migrate-diag-ssh:ssh-privatekey"
    assert files[str(settings.ssh.known_hosts)] == "migrate-diag-ssh:known_hosts"
    assert files[str(settings.ssh.config_file)] == "migrate-diag-ssh:ssh_config"
    assert (
        files[str(settings.openstack.clouds_file)] == "migrate-diag-clouds:clouds.yaml"
    )


def test_service_exposes_what_is_listening(default: Manifests, full: Manifests) -> None:
    """Health/metrics always; Slack HTTP mode and the webhook only when turned on."""

    def ports(manifests: Manifests) -> dict[str, tuple[int, str]]:
        return {
            p["name"]: (p["port"], p["targetPort"])
            for p in one(manifests, "Service")["spec"]["ports"]
        }

    assert ports(default) == {"health": (8081, "health")}
    assert ports(full) == {
        "health": (9102, "health"),
        "slack": (3000, "slack"),
        "webhook": (8088, "webhook"),
    }
    named = {p["name"] for p in container(full)["ports"]}
    assert named == {"health", "slack", "webhook"}
    labels = one(full, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = one(full, "Service")["spec"]["selector"]
    assert selector.items() <= labels.items()


def test_pdb_and_replicas(default: Manifests, full: Manifests) -> None:
    """The budget selects the bot's pods; with two replicas one must stay up."""
    pdb = one(full, "PodDisruptionBudget")["spec"]
    assert pdb == {"minAvailable": 1, "selector": pdb["selector"]}
    labels = one(full, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert one(full, "Deployment")["spec"]["replicas"] == 2
    assert one(default, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_service_monitor_scrapes_metrics(default: Manifests, full: Manifests) -> None:
    """Optional; when on, it scrapes /metrics on the Service's health port of this release."""
    assert "ServiceMonitor" not in default
    monitor = one(full, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "health",
        "path": "/metrics",
        "interval": "15s",
        "scrapeTimeout": "5s",
    }
    service = one(full, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items()
        <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


@pytest.mark.parametrize(
    "values",
    [
        {"sshh": {"existingSecret": "x"}},  # a misspelt section
        {
            "ssh": {"privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----"}
        },  # a key as a value
        {
            "envFromSecrets": ["SLACK_BOT_TOKEN=xoxb-1"]
        },  # a token instead of a Secret name
        {"probes": {"liveness": {"path": "healthz"}}},
    ],
    ids=["typo", "inline-key", "inline-token", "relative-probe-path"],
)
def test_values_schema_refuses_mistakes_and_inline_secrets(
    values: dict[str, Any],
) -> None:
    """values.schema.json makes `helm install` refuse them before anything is deployed."""
    helm = module("helm_python")
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(full_values())  # the worked example passes
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(values)
