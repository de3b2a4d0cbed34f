"""docker-compose.yml and monitoring/ agree with the code (no Docker engine runs here)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import yaml

from hub.cli import build_parser
from hub.settings import PROJECT_ROOT, Settings
from tests.helpers import required_tool

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
HAPROXY_CFG = PROJECT_ROOT / "deploy" / "haproxy.cfg"


def _roles() -> dict[str, list[str]]:
    """The services running `hub serve`, by role."""
    roles: dict[str, list[str]] = {}
    for name, service in COMPOSE["services"].items():
        command = service.get("command", [])
        if command[:2] == ["hub", "serve"]:
            role = command[command.index("--role") + 1] if "--role" in command else "all"
            roles.setdefault(role, []).append(name)
    return roles


def test_every_hub_command_in_compose_is_a_real_command():
    commands = [s["command"] for s in COMPOSE["services"].values() if s.get("command", [""])[0] == "hub"]
    assert len(commands) >= 2
    for command in commands:
        build_parser().parse_args(command[1:])


def test_every_hub_variable_in_compose_is_a_setting():
    fields = set(Settings.model_fields)
    for service in COMPOSE["services"].values():
        for name in service.get("environment", {}):
            if name.startswith("HUB_"):
                key = name[4:].lower().split("__")[0]
                assert key in fields, f"{name} is not a hub setting"


def test_ports_and_names_agree_between_compose_settings_and_prometheus():
    services = COMPOSE["services"]
    hub_env = services["gateway-1"]["environment"]
    for name in ("spolis", "vsaa", "vdeavk", "sopa", "lietis", "burvis"):
        command = services[name]["command"]
        port = command[command.index("--port") + 1]
        assert hub_env[f"HUB_ENDPOINTS__{name.upper()}"] == f"http://{name}:{port}/soap/{name}"
    prometheus = yaml.safe_load((PROJECT_ROOT / "monitoring" / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    hub_processes = [name for name, s in services.items() if s.get("command", [""])[:2] == ["hub", "serve"]]
    assert sorted(jobs["hub"]) == sorted(f"{name}:{hub_env['HUB_HTTP_PORT']}" for name in hub_processes)
    assert len([n for n in hub_processes if "worker" in n]) >= 2
    brokers = sorted(name for name in services if name.startswith("rabbitmq-"))
    assert len(brokers) == 3
    assert sorted(jobs["rabbitmq"]) == [f"{b}:15692" for b in brokers]
    conf = (PROJECT_ROOT / "monitoring" / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    assert all(f"rabbit@{b}" in conf for b in brokers)
    assert all(f"{b}:5672" in hub_env["HUB_BROKER_URL"] for b in brokers)


def test_every_file_compose_mounts_is_in_the_repository():
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).exists(), f"{name} mounts {source}"
    assert "rabbitmq_prometheus" in (PROJECT_ROOT / "monitoring" / "rabbitmq" / "enabled_plugins").read_text()


def test_every_service_has_a_health_check_and_hub_processes_wait_for_their_dependencies():
    for name, service in COMPOSE["services"].items():
        assert "healthcheck" in service or service.get("restart") == "no", f"{name} has no health check"
    for name in [n for names in _roles().values() for n in names]:
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["pki"]["condition"] == "service_completed_successfully"
        assert all(depends[f"rabbitmq-{n}"]["condition"] == "service_healthy" for n in (1, 2, 3))


def test_the_image_copies_what_the_hub_reads_at_run_time():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    for folder in ("hub", "adapters", "schemas", "config"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    healthcheck = " ".join(COMPOSE["services"]["gateway-1"]["healthcheck"]["test"])
    assert "/readyz" in shlex.split(healthcheck)[-1]


def test_the_configuration_page_documents_every_setting():
    page = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`HUB_{name.upper()}" in page, f"HUB_{name.upper()} is missing from docs/configuration.md"


def test_an_empty_secret_variable_means_unset(monkeypatch):
    monkeypatch.setenv("HUB_AUDIT_KEY", "")
    monkeypatch.setenv("HUB_STORE_KEYS", " ")
    settings = Settings()
    assert settings.audit_key is None and settings.store_keys is None


def test_every_system_has_its_page_and_the_pages_point_at_files_that_exist():

    from hub.systems import discover

    for name in discover():
        page = PROJECT_ROOT / "docs" / "systems" / f"{name}.md"
        assert page.is_file(), f"docs/systems/{name}.md is missing"
        for path in re.findall(r"`(schemas/[^`]+)`", page.read_text(encoding="utf-8")):
            assert (PROJECT_ROOT / path).exists(), f"{page.name} names {path}, which does not exist"


def _mounts(service: dict) -> dict[str, str]:
    """source -> target of a service's volumes."""
    return dict(volume.split(":")[:2] for volume in service.get("volumes", []))


def _stages() -> dict[str, str]:
    """The Dockerfile's stages by name, each with its instructions."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    parts = re.split(r"^FROM \S+ AS (\S+)$", dockerfile, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_image_the_project_builds_is_built_and_its_volumes_are_writable_by_the_hub_user():
    stages = _stages()
    declared = set(COMPOSE["volumes"])
    for name, service in COMPOSE["services"].items():
        for source in _mounts(service):
            if not source.startswith("./"):
                assert source in declared, f"{name} mounts the undeclared volume {source}"
        if service.get("image", "").startswith("welfare-hub"):
            build = service.get("build")
            assert build == "." or build.get("context") == ".", f"{name} would try to pull the project's image"
            stage = "production" if build == "." else build["target"]  # the last stage is the default
            writable = stages[stage].split("chown hub", 1)[1].splitlines()[0]
            for target in _mounts(service).values():
                assert target in writable, f"{target} is not the hub's in the {stage} image"


def test_the_production_image_leaves_the_simulators_out_and_the_hub_still_runs(tmp_path):
    """What the production stage removes, removed from a copy of the tree: `hub` still starts, serves
    and checks contracts, and offers no simulator."""
    assert list(_stages())[-1] == "production", "the default image is the production one"
    removed = _stages()["trimmed"].split("RUN rm -r", 1)[1].split()
    listed = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    for name in listed.stdout.split():
        if name.startswith(("hub/", "adapters/", "schemas/", "config/")):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    for pattern in removed:
        for path in tmp_path.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert not (tmp_path / "hub" / "simulation").exists() and not list(tmp_path.glob("adapters/*/simulator.py"))
    # the tree's own packages, not those the development install maps to the repository
    alone = "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)];"
    script = alone + (
        "from hub.cli import build_parser; from hub.runtime import Hub; from hub.settings import Settings;"
        "assert 'hub.simulation' not in sys.modules;"
        "commands = build_parser()._subparsers._group_actions[0].choices; assert 'simulate' not in commands;"
        f"hub = Hub(Settings(signatures='off', http_port=0, store_url='sqlite:///{tmp_path}/hub.sqlite3', "
        f"store_key_file='{tmp_path}/k', pseudonym_key_file='{tmp_path}/p', audit_key_file='{tmp_path}/a', "
        f"audit_checkpoint_file='{tmp_path}/c')).start();"
        "hub.stop(); assert not [m for m in sys.modules if m.startswith('hub.simulation')]"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    ran = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    sample = PROJECT_ROOT / "schemas" / "sopa" / "samples" / "valid" / "benefits.xml"
    checked = subprocess.run(
        [
            sys.executable,
            "-c",
            alone + "from hub.cli import main; sys.exit(main())",
            "contract",
            "check",
            "sopa",
            str(sample),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0 and "valid data load" in checked.stdout, checked.stdout + checked.stderr


def test_simulators_listen_where_their_health_checks_and_the_hub_look():
    for name in ("spolis", "vsaa", "vdeavk", "sopa", "lietis", "burvis"):
        service = COMPOSE["services"][name]
        port = service["command"][service["command"].index("--port") + 1]
        assert service["environment"]["PORT"] == port
        assert "/_sim/stats" in " ".join(service["healthcheck"]["test"])


def test_prometheus_grafana_and_rabbitmq_find_their_files_where_compose_puts_them():
    services = COMPOSE["services"]
    prometheus = yaml.safe_load((PROJECT_ROOT / "monitoring" / "prometheus.yml").read_text(encoding="utf-8"))
    mounted = _mounts(services["prometheus"])
    assert prometheus["rule_files"] == [mounted["./monitoring/alerts.yml"]]
    grafana = _mounts(services["grafana"])
    provisioning = PROJECT_ROOT / "monitoring" / "grafana" / "provisioning"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "hub.yml").read_text(encoding="utf-8"))["providers"]
    assert provider["options"]["path"] == grafana["./monitoring/grafana/dashboards"]
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))[
        "datasources"
    ]
    port = services["prometheus"]["ports"][0].split(":")[1]
    assert source["url"] == f"http://prometheus:{port}"
    assert source["uid"] == "prometheus"  # what every dashboard panel names
    conf = (PROJECT_ROOT / "monitoring" / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    settings = dict(line.split(" = ") for line in conf.splitlines() if " = " in line)
    user = f"{settings['default_user']}:{settings['default_pass']}@"
    hub_env = services["gateway-1"]["environment"]
    assert all(user in node for node in hub_env["HUB_BROKER_URL"].split(";"))


def test_no_private_key_or_secret_is_in_the_repository():
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.split()
    marker = b"PRIVATE" + b" KEY-----"  # spelled apart, so this file does not hold it
    for name in tracked:
        path = PROJECT_ROOT / name
        if path.is_file() and path.stat().st_size < 1_000_000:
            text = path.read_bytes()
            assert marker not in text, f"{name} holds a private key"
    assert not [n for n in tracked if n.endswith((".key", ".p12", ".pfx"))]


def test_compose_runs_the_production_topology():
    """Three RabbitMQ nodes, PostgreSQL, two gateways behind HAProxy, two workers: every hub process
    lists the three nodes, and only HAProxy takes partners' requests."""
    services = COMPOSE["services"]
    roles = _roles()
    assert sorted(roles) == ["gateway", "worker"], "no process runs both halves"
    assert len(roles["gateway"]) == 2 and len(roles["worker"]) == 2
    assert services["postgres"]["image"].startswith("postgres:")
    brokers = sorted(name for name in services if name.startswith("rabbitmq-"))
    assert len(brokers) == 3
    for name in roles["gateway"] + roles["worker"]:
        environment = services[name]["environment"]
        nodes = environment["HUB_BROKER_URL"].split(";")
        assert [node.split("@")[1].split(":")[0] for node in nodes] == brokers, name
        assert environment["HUB_STORE_URL"].startswith("postgresql://") and "@postgres:" in environment["HUB_STORE_URL"]
        published = services[name].get("ports", [])
        admin = environment.get("HUB_ADMIN_PORT")
        assert all(p.startswith("127.0.0.1:") and p.endswith(f":{admin}") for p in published), (
            f"{name}: partners reach it through HAProxy; only its console is published, on the host's loopback"
        )
    for name in roles["worker"]:
        assert any(services[name]["depends_on"][g]["condition"] == "service_healthy" for g in roles["gateway"])
    haproxy = services["haproxy"]
    assert haproxy["image"].startswith("haproxy:")
    assert {g: {"condition": "service_healthy"} for g in roles["gateway"]}.items() <= haproxy["depends_on"].items()
    assert [s for s in services if "8080:8080" in services[s].get("ports", [])] == ["haproxy"]


def test_haproxy_balances_over_both_gateways_and_checks_their_readiness():
    services = COMPOSE["services"]
    haproxy = services["haproxy"]
    assert _mounts(haproxy)["./deploy/haproxy.cfg"] == "/usr/local/etc/haproxy/haproxy.cfg"  # the image's default
    config = HAPROXY_CFG.read_text(encoding="utf-8")
    gateways = _roles()["gateway"]
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+)\b", config, re.M)
    assert sorted((host, int(port)) for _, host, port in servers) == sorted(
        (g, int(services[g]["environment"]["HUB_HTTP_PORT"])) for g in gateways
    )
    assert re.search(r"^\s*option httpchk GET /readyz$", config, re.M)
    assert all(" check" in line for line in config.splitlines() if line.strip().startswith("server "))
    (bind,) = re.findall(r"^\s*bind :(\d+)$", config, re.M)
    assert f"8080:{bind}" in haproxy["ports"]
    (monitor,) = re.findall(r"^\s*monitor-uri (\S+)$", config, re.M)
    probe = haproxy["healthcheck"]["test"][-1]
    assert f"/dev/tcp/127.0.0.1/{bind}" in probe and f"GET {monitor} " in probe


def test_the_haproxy_configuration_is_valid():
    """HAProxy's own check; the gateways' names resolve only inside compose, which the configuration allows."""
    checked = subprocess.run(
        [required_tool("haproxy", "haproxy"), "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_command_that_copies_the_development_keys_is_the_same_everywhere():
    """The `pki` service writes the keys into its volume; the command that copies them out to var/pki
    runs the service's image (which has tar) as the keys' owner, and is written the same in the
    compose file, the README and the operations page."""
    command = "mkdir -p var && docker compose run --rm --no-deps -T pki tar -C / -cf - pki | tar -xf - -C var"
    header = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8").split("\nname:", 1)[0]
    assert f"#   {command}\n" in header
    for page in ("README.md", "docs/operations.md"):
        assert f"\n{command}\n" in (PROJECT_ROOT / page).read_text(encoding="utf-8"), page
    pki = COMPOSE["services"]["pki"]
    assert pki["restart"] == "no" and _mounts(pki) == {"pki": "/pki"}
    assert pki["command"][:3] == ["hub", "pki", "dev"] and pki["command"][pki["command"].index("--out") + 1] == "/pki"
