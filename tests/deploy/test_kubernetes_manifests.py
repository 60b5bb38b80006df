"""The Kubernetes recipe (``deploy/kubernetes``), rendered by ``kubectl kustomize`` exactly as
an operator renders it, checked against what certdist really is: its settings, its routes,
its port, its image and commands, its graceful shutdown.

The base renders as committed (its Secret is placeholders). The production overlay needs the
operator's secret files: the test copies the tree and writes stand-ins for them, as an
operator would write the real ones. Needs kubectl (no cluster): skipped without it, a failure
under ``CERTDIST_TEST_STRICT=1``.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from certdist.cli import GRACEFUL_SHUTDOWN_SECONDS
from certdist.config import Settings
from tests.support.deployment import (
    DEPLOY,
    cli_commands,
    development_secret_files,
    files_read,
    image_entrypoint,
    probe_status,
    production_settings,
    run_on_this_machine,
    under,
    unknown_setting_names,
)
from tests.support.environment import require
from tests.support.services import ServicesFactory

KUBERNETES = DEPLOY / "kubernetes"
OVERLAY = Path("overlays") / "production"
WEB, WORKER, MIGRATE = "certdist-web", "certdist-worker", "certdist-migrate"
#: Each workload's main container (pod-defaults.yaml finds it by this name) and its command.
MAIN_CONTAINER = "certdist"
COMMANDS = {WEB: "serve", WORKER: "worker", MIGRATE: "init"}
#: The oldest Kubernetes the recipe is written for (docs/deployment.md), and the newest the
#: schemas know.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
#: Stand-ins for the operator's secret files: well-formed where certdist parses the value.
STAND_INS = {
    "redis-url": "redis://:stand-in-password@redis.example.org:6379/0",
    "sms-http-headers": '{"Authorization": "Bearer stand-in-token"}',
}


def stand_in(name: str) -> str:
    return STAND_INS.get(name, f"stand-in for the operator's {name}")


Manifest = dict[str, Any]


class Rendered:
    """The objects one kustomization renders to, looked up by kind and name."""

    def __init__(self, objects: list[Manifest]) -> None:
        self.objects = objects

    def all(self, kind: str) -> list[Manifest]:
        return [item for item in self.objects if item["kind"] == kind]

    def one(self, kind: str, name: str) -> Manifest:
        found = [item for item in self.all(kind) if item["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def workload(self, name: str) -> Manifest:
        kind = "Job" if name == MIGRATE else "Deployment"
        return self.one(kind, name)

    def pod(self, name: str) -> Manifest:
        spec: Manifest = self.workload(name)["spec"]["template"]["spec"]
        return spec

    def container(self, name: str) -> Manifest:
        containers = [c for c in self.pod(name)["containers"] if c["name"] == MAIN_CONTAINER]
        assert len(containers) == 1, f"{name} has no container named {MAIN_CONTAINER}"
        return containers[0]

    def secret_data(self, name: str) -> dict[str, str]:
        data = self.one("Secret", name).get("data", {})
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def environment(self, workload: str) -> dict[str, str]:
        """The variables the main container starts with: its ConfigMaps, then its own
        (secret references resolved), as Kubernetes composes them."""
        container = self.container(workload)
        environment: dict[str, str] = {}
        for source in container.get("envFrom", []):
            reference = source["configMapRef"]["name"]
            environment.update(self.one("ConfigMap", reference)["data"])
        for variable in container.get("env", []):
            if "value" in variable:
                environment[variable["name"]] = variable["value"]
                continue
            reference = variable["valueFrom"]["secretKeyRef"]
            secret = self.secret_data(reference["name"])
            assert reference["key"] in secret, f"{variable['name']}: no key {reference['key']}"
            environment[variable["name"]] = secret[reference["key"]]
        return environment

    def mounts(self, workload: str) -> dict[str, Manifest]:
        """Mount path → the volume mounted there, in the main container."""
        volumes = {volume["name"]: volume for volume in self.pod(workload).get("volumes", [])}
        return {
            mount["mountPath"]: volumes[mount["name"]]
            for mount in self.container(workload).get("volumeMounts", [])
        }


def renderer() -> list[str]:
    """``kubectl kustomize`` (kustomize v5 inside kubectl 1.27 and later), else the
    standalone ``kustomize build``."""
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize_tool := shutil.which("kustomize"):
        return [kustomize_tool, "build"]
    require(False, "neither kubectl nor kustomize is installed: the manifests cannot be rendered")
    raise AssertionError("unreachable")


def kustomize(folder: Path) -> Rendered:
    command = [*renderer(), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr}"
    return Rendered([item for item in yaml.safe_load_all(done.stdout) if item])


def with_operator_secrets(tree: Path) -> Path:
    """The overlay in a copy of ``tree`` with a stand-in for each secret file it names."""
    overlay = tree / OVERLAY
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    for generator in kustomization["secretGenerator"]:
        for file in generator["files"]:
            path = overlay / file
            path.write_text(stand_in(path.name))
    return overlay


@pytest.fixture(scope="module", params=["base", "production"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    if request.param == "base":
        return kustomize(KUBERNETES / "base")
    tree = tmp_path_factory.mktemp("kubernetes")
    shutil.copytree(KUBERNETES, tree, dirs_exist_ok=True)
    return kustomize(with_operator_secrets(tree))


@pytest.fixture
def settings_of(rendered: Rendered, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Settings]:
    """The settings a workload's main container would start with (production-checked)."""
    return lambda workload: production_settings(rendered.environment(workload), monkeypatch)


def test_every_object_the_recipe_promises_is_rendered(rendered: Rendered) -> None:
    for name in (WEB, WORKER, MIGRATE):
        rendered.workload(name)
    for kind in ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        rendered.one(kind, WEB)
    assert len(rendered.all("ConfigMap")) == 1
    assert len(rendered.all("Secret")) == 1
    rendered.one("PersistentVolumeClaim", "certdist-prints")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(rendered: Rendered, version: str) -> None:
    # Strict: a misspelt field (say terminationGracePeriodSecond) would otherwise be dropped
    # without a word by the API server, leaving its default in force.
    for item in rendered.objects:
        try:
            kubernetes_validate.validate(item, version, strict=True)
        except jsonschema.ValidationError as error:
            name = f"{item['kind']} {item['metadata']['name']}"
            pytest.fail(f"{name} is not valid for Kubernetes {version}: {error.message}")


def test_probes_ask_routes_the_application_serves(
    rendered: Rendered, make_sqlite_services: ServicesFactory
) -> None:
    web = rendered.container(WEB)
    paths = {
        probe: web[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    # Liveness must not depend on the database (a database outage would restart every pod);
    # readiness must (a pod that cannot reach it should get no traffic).
    assert paths == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    services = make_sqlite_services()
    for path in set(paths.values()):
        assert probe_status(services, path) == 200, path


def test_the_port_is_the_servers_the_services_and_the_probes(
    rendered: Rendered, settings_of: Callable[[str], Settings]
) -> None:
    web = rendered.container(WEB)
    ports = {port["name"]: port["containerPort"] for port in web["ports"]}
    assert ports == {"http": settings_of(WEB).port}
    service = rendered.one("Service", WEB)
    [service_port] = service["spec"]["ports"]
    assert ports[service_port["targetPort"]] == settings_of(WEB).port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert web[probe]["httpGet"]["port"] in ports
    pod_labels = rendered.workload(WEB)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("workload", [WEB, WORKER, MIGRATE])
def test_every_setting_is_real_and_enough_for_production(
    rendered: Rendered, settings_of: Callable[[str], Settings], workload: str
) -> None:
    environment = rendered.environment(workload)
    assert unknown_setting_names(environment) == []
    settings = settings_of(workload)
    mounts = rendered.mounts(workload)
    # Every key and secret file the settings name is in the pod, among the Secret's files.
    copied = [
        path
        for path, volume in mounts.items()
        if volume.get("emptyDir", {}).get("medium") == "Memory"
    ]
    secret_files = {
        item["path"]
        for volume in rendered.pod(workload)["volumes"]
        if "secret" in volume
        for item in volume["secret"]["items"]
    }
    for path in files_read(settings):
        assert under(path, copied), f"{path} is not in the pod"
        assert path.name in secret_files, f"{path.name} is not one of the Secret's files"
    assert str(settings.data_dir) in mounts


def test_print_outputs_are_shared_between_the_worker_and_the_web_pods(
    rendered: Rendered, settings_of: Callable[[str], Settings]
) -> None:
    folder = str(settings_of(WORKER).printing.batch_dir)
    assert str(settings_of(WEB).printing.batch_dir) == folder
    claims = {
        rendered.mounts(name)[folder]["persistentVolumeClaim"]["claimName"]
        for name in (WEB, WORKER)
    }
    [claim] = claims
    assert rendered.one("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteMany"]
    # The web pods only serve: the worker Deployment sends mail and runs the print jobs.
    assert settings_of(WEB).printing.batch_run_in_server is False
    assert settings_of(WEB).mail.embedded_worker is False


def test_images_and_commands_are_the_containerfiles(rendered: Rendered) -> None:
    images = set()
    for name, command in COMMANDS.items():
        container = rendered.container(name)
        # No `command`: the image's ENTRYPOINT (certdist) runs, with these arguments.
        assert container.get("command", image_entrypoint()) == image_entrypoint()
        assert container["args"][0] in cli_commands()
        assert container["args"] == [command]
        images.add(container["image"])
        for init in rendered.pod(name).get("initContainers", []):
            images.add(init["image"])
    assert len(images) == 1, f"one image for every container, found {images}"
    assert images.pop().rpartition(":")[0].endswith("/certdist")


def test_pods_run_as_the_images_user_on_a_read_only_root(rendered: Rendered) -> None:
    for name in COMMANDS:
        pod = rendered.pod(name)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the Containerfile's user
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"] + pod.get("initContainers", []):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert "memory" in container["resources"]["limits"]
        # Python and the PDF renderer write temporary files.
        assert "emptyDir" in rendered.mounts(name)["/tmp"]


def test_web_pods_stop_gracefully(rendered: Rendered) -> None:
    pod = rendered.pod(WEB)
    pause = rendered.container(WEB)["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(pause[1]) + GRACEFUL_SHUTDOWN_SECONDS


def test_the_disruption_budget_and_the_autoscaler_are_the_web_pods(rendered: Rendered) -> None:
    web_labels = rendered.workload(WEB)["spec"]["template"]["metadata"]["labels"]
    worker_labels = rendered.workload(WORKER)["spec"]["template"]["metadata"]["labels"]
    budget = rendered.one("PodDisruptionBudget", WEB)["spec"]
    selector = budget["selector"]["matchLabels"]
    assert selector.items() <= web_labels.items()
    assert not selector.items() <= worker_labels.items()
    assert rendered.workload(WEB)["spec"]["selector"]["matchLabels"] == selector
    assert budget.get("maxUnavailable") == 1 or budget.get("minAvailable")

    autoscaler = rendered.one("HorizontalPodAutoscaler", WEB)
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    spec = autoscaler["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": WEB}
    [metric] = spec["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 2 <= spec["minReplicas"] < spec["maxReplicas"]
    # Utilisation is measured against the request; the autoscaler owns the replica count.
    assert "cpu" in rendered.container(WEB)["resources"]["requests"]
    assert "replicas" not in rendered.workload(WEB)["spec"]


def test_no_secret_is_in_the_config_map(rendered: Rendered) -> None:
    [config_map] = rendered.all("ConfigMap")
    [secret] = rendered.all("Secret")
    plain = config_map["data"]
    for name, value in rendered.secret_data(secret["metadata"]["name"]).items():
        assert not any(value.strip() in text for text in plain.values()), name
    secret_words = ("PASSWORD", "SECRET", "TOKEN", "API_KEY", "HEADERS")
    assert [name for name in plain if name.endswith(secret_words)] == []
    for name in ("CERTDIST_DATABASE_URL", "CERTDIST_REDIS_URL"):
        if name in plain:
            assert urlsplit(plain[name]).password is None, name


def test_the_migration_jobs_environment_initialises_certdist_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The base, with real keys where its placeholders are: what an operator's overlay gives.
    rendered = kustomize(KUBERNETES / "base")
    secrets = development_secret_files(tmp_path)
    result = run_on_this_machine(rendered.environment(MIGRATE), tmp_path, secrets, monkeypatch)
    assert result.exit_code == 0, result.output
    for use in ("credential", "shc", "dcc"):
        assert f"({use}, " in result.output


def test_the_bases_placeholders_cannot_start_certdist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = kustomize(KUBERNETES / "base")
    secrets = tmp_path / "secrets"
    shutil.copytree(KUBERNETES / "base" / "placeholder-secrets", secrets)
    for path in secrets.iterdir():
        path.chmod(0o600)
    result = run_on_this_machine(rendered.environment(MIGRATE), tmp_path, secrets, monkeypatch)
    assert result.exit_code != 0
    assert str(secrets) in result.output  # names the file it cannot use


def test_the_production_overlay_finds_the_primary_and_carries_the_operators_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(KUBERNETES, tmp_path, dirs_exist_ok=True)
    production = kustomize(with_operator_secrets(tmp_path))
    base = kustomize(KUBERNETES / "base")
    settings = production_settings(production.environment(WEB), monkeypatch)
    query = parse_qs(urlsplit(settings.database_url).query)
    assert query["target_session_attrs"] == ["read-write"]
    assert len(query["host"]) >= 2, "a multi-host DSN names every PostgreSQL node"
    # The overlay replaces every placeholder, and names no key the pods do not read.
    [secret] = production.all("Secret")
    values = production.secret_data(secret["metadata"]["name"])
    [base_secret] = base.all("Secret")
    assert values.keys() == base.secret_data(base_secret["metadata"]["name"]).keys()
    assert values == {name: stand_in(name) for name in values}
    for name in (WEB, WORKER, MIGRATE):
        assert production.workload(name)["metadata"]["namespace"] == "certdist"
    assert production.container(WEB)["image"] != base.container(WEB)["image"]
