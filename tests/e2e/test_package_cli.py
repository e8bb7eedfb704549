"""`dockyard containerize` and `dockyard package ...` as a user runs them, every output
checked by its real validator, and the image's entrypoint proven without Docker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from packaging_checks import (
    argo_errors,
    cfn_lint,
    github_workflow_errors,
    hadolint,
    kubernetes_errors,
)
from support import free_port

REGISTER = """
from sklearn.linear_model import LogisticRegression
from dockyard import register_model

X = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.8], [0.9, 0.2]]
register_model("tiny", LogisticRegression().fit(X, [0, 1, 0, 1]), sample=X, aliases=["production"])
register_model("tiny", LogisticRegression(C=0.5).fit(X, [0, 1, 0, 1]), sample=X)
"""

# A deployment mid-canary (version 2 at 25% next to version 1), recorded as the local
# controller records it: packaging reads the stored state, it starts no process.
DEPLOYMENT = """
from dockyard.rollout.machine import RolloutState
from dockyard.rollout.spec import RolloutSpec
from dockyard.stacks.stack import load_stack

spec = RolloutSpec.from_cli(strategy="canary", steps="10,25,50,100", interval="30s",
                            max_error_rate=0.01, max_p99_ms=50, min_requests=100)
state = RolloutState(model="tiny", stable=1, candidate=2, phase="progressing", weight=25.0,
                     step_index=1, spec=spec.to_dict())
store = load_stack().deployment_store
store.create_deployment("tiny-api", port=8080, state=state.to_dict())

# A blue/green deployment at rest: version 2 alone, its last rollout completed.
blue_green = RolloutSpec.from_cli(strategy="bluegreen", bake="1m", interval="2m",
                                  max_error_rate=0.02)
state = RolloutState(model="tiny", stable=2, phase="completed", spec=blue_green.to_dict())
store.create_deployment("tiny-bg", port=8081, state=state.to_dict())
"""

PIPELINE = """
from dockyard import pipeline, step


@step
def numbers() -> list:
    return [1, 2, 3]


@pipeline
def training():
    numbers()
"""


class Project:
    """A project with two versions of ``tiny`` and the deployment ``tiny-api``, made once
    for this module (registering imports scikit-learn: seconds of CPU per test)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {**os.environ, "DOCKYARD_HOME": str(root), "COLUMNS": "200", "NO_COLOR": "1"}
        self.env.pop("DOCKYARD_STACK", None)

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "dockyard", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def script(self, name: str, code: str) -> None:
        (self.root / name).write_text(code)
        subprocess.run([sys.executable, name], cwd=self.root, env=self.env, check=True)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project(tmp_path_factory.mktemp("packaging") / "proj")
    project.root.mkdir()
    project("init")
    project.script("register.py", REGISTER)
    project.script("deployment.py", DEPLOYMENT)
    return project


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A fresh output folder for one test (the shared project stays as it was)."""
    return tmp_path / "out"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_containerize_a_model(shared: Project, out: Path) -> None:
    shared("containerize", "tiny@production", "-o", str(out))
    assert {p.name for p in out.iterdir()} >= {
        "Dockerfile",
        ".dockerignore",
        "requirements.txt",
        "model",
        "wheels",
    }
    assert hadolint(out / "Dockerfile") == ""
    spec = json.loads((out / "model" / "serve.json").read_text())
    assert (spec["name"], spec["version"]) == ("tiny", 1)
    assert spec["artifact_store"] == {"flavor": "local", "path": "artifacts"}
    digest = spec["artifact"]["content_hash"].rsplit(":", 1)[-1]
    assert list((out / "model" / "artifacts").rglob(f"*{digest[-16:]}"))
    pins = dict(
        line.split("==")
        for line in (out / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    import sklearn

    assert pins["scikit-learn"] == sklearn.__version__  # the version it was saved with
    assert pins["dockyard[serving]"]


def test_containerize_pull_mode_copies_no_model(shared: Project, out: Path) -> None:
    proc = shared("containerize", "tiny:2", "-o", str(out), "--pull")
    assert "artifact store" in proc.stdout
    assert not (out / "model" / "artifacts").exists()
    spec = json.loads((out / "model" / "serve.json").read_text())
    assert Path(spec["artifact_store"]["path"]).is_absolute()


def test_containerize_a_pipeline(cli, project: Path) -> None:
    (project / "train.py").write_text(PIPELINE)
    cli("init")
    cli("containerize", "--pipeline", "train.py:training", "-o", "steps")
    assert (project / "steps" / "train.py").read_text() == PIPELINE
    assert hadolint(project / "steps" / "Dockerfile") == ""


def test_containerize_bad_input(shared: Project, out: Path) -> None:
    out.mkdir()
    (out / "a-file").write_text("x")
    (out / "not-json").write_text("x")
    cases = {
        ("containerize", "ghost@production", "-o", f"{out}/b1"): "No model named 'ghost'",
        ("containerize", "tiny:9", "-o", f"{out}/b2"): "Model 'tiny' has no version 9",
        ("containerize", "tiny:1", "-o", f"{out}/a-file"): "is a file",
        ("containerize", "tiny:1", "-o", f"{out}/a-file/sub"): "a-file is a file where a folder",
        ("containerize", "-o", f"{out}/b3"): "give a model REF or --pipeline",
        ("containerize", "--pipeline", "flow.py", "-o", f"{out}/b4"): "Expected FILE:PIPELINE",
        ("containerize", "tiny:1", "--wheel", "nope.whl", "-o", f"{out}/b5"): (
            "is not a dockyard wheel"
        ),
        ("serve", "tiny:1", "--spec", "serve.json"): "not both",
        ("serve", "--spec", "missing.json"): "Cannot read the serve spec missing.json",
        ("serve", "--spec", f"{out}/not-json"): "is not JSON",
    }
    for args, message in cases.items():
        proc = shared(*args, ok=False)
        assert proc.returncode in (1, 2), args
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_package_k8s(shared: Project, out: Path) -> None:
    shared("package", "k8s", "tiny-api", "-o", str(out), "--image", "ghcr.io/acme/tiny-api")
    objects = _docs(out / "tiny-api.yaml")
    assert kubernetes_errors(objects) == []
    images = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"]
        for o in objects
        if o["kind"] == "Deployment"
    }
    assert images == {
        "tiny-api-v1": "ghcr.io/acme/tiny-api:v1",
        "tiny-api-v2": "ghcr.io/acme/tiny-api:v2",
    }


def test_package_k8s_argo_rollouts(shared: Project, out: Path) -> None:
    shared("package", "k8s", "tiny-api", "-o", str(out), "--rollouts", "argo")
    objects = _docs(out / "tiny-api.yaml")
    argo = [o for o in objects if o["apiVersion"].startswith("argoproj.io/")]
    assert {o["kind"] for o in argo} == {"Rollout", "AnalysisTemplate"}
    for obj in argo:
        assert argo_errors(obj) == [], obj["kind"]
    assert kubernetes_errors([o for o in objects if o not in argo]) == []
    (rollout,) = [o for o in argo if o["kind"] == "Rollout"]
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    assert [s["setWeight"] for s in steps if "setWeight" in s] == [10, 25, 50]  # the spec's


def test_package_a_bluegreen_deployment_at_rest(shared: Project, out: Path) -> None:
    shared("package", "k8s", "tiny-bg", "-o", str(out), "--rollouts", "argo")
    objects = _docs(out / "tiny-bg.yaml")
    (rollout,) = [o for o in objects if o["kind"] == "Rollout"]
    assert argo_errors(rollout) == []
    blue_green = rollout["spec"]["strategy"]["blueGreen"]
    assert (blue_green["autoPromotionSeconds"], blue_green["scaleDownDelaySeconds"]) == (60, 120)
    (container,) = rollout["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith(":v2")
    shared("package", "aws", "tiny-bg", "-o", str(out))
    template = yaml.safe_load((out / "tiny-bg.cfn.yaml").read_text())
    weights = {k: v["Default"] for k, v in template["Parameters"].items() if k.startswith("Weight")}
    assert weights == {"WeightV2": 100}


def test_package_aws(shared: Project, out: Path) -> None:
    shared("package", "aws", "tiny-api", "-o", str(out))
    template = out / "tiny-api.cfn.yaml"
    assert cfn_lint(template) == []
    data = yaml.safe_load(template.read_text())
    weights = sorted(v["Default"] for k, v in data["Parameters"].items() if k.startswith("WeightV"))
    assert weights == [25, 75]


def test_package_github_actions(shared: Project, out: Path) -> None:
    shared(
        "package",
        "github-actions",
        "-o",
        str(out / ".github" / "workflows"),
        "--pipeline",
        "train.py:training",
        "--model",
        "churn",
        "--deployment",
        "churn-api",
    )
    assert github_workflow_errors(out / ".github" / "workflows" / "dockyard.yml") == ""


def test_package_bad_input(shared: Project, out: Path) -> None:
    out.mkdir()
    (out / "a-file").write_text("x")
    k = str(out / "k")
    cases = {
        ("package", "k8s", "ghost", "-o", k): "No deployment named 'ghost' on stack",
        ("package", "k8s", "ghost", "-o", k, "--image", "a:b"): "has a tag",
        ("package", "aws", "ghost", "-o", k): "No deployment named 'ghost'",
        ("package", "k8s", "tiny-api", "-o", k, "--image", "acme/Tiny:v1"): "has a tag",
        ("package", "k8s", "tiny-api", "-o", k, "--image", "Acme/Tiny"): "not a valid image",
        ("package", "aws", "tiny-api", "-o", k, "--image", "acme//x"): "not a valid image",
        ("package", "k8s", "tiny-api", "-o", str(out / "a-file")): "is a file",
        ("package", "k8s", "tiny-api", "-o", k, "--rollouts", "flagger"): "Unknown rollout tool",
    }
    for args, message in cases.items():
        proc = shared(*args, ok=False)
        assert proc.returncode == 1, args
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def _dockyard_wheel(into: Path, scratch: Path) -> Path:
    """A wheel of this checkout's dockyard, built from a copy (the checkout stays clean)."""
    repo = Path(__file__).resolve().parents[2]
    source = scratch / "dockyard-src"
    shutil.copytree(
        repo / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(repo / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(into), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = into.glob("dockyard-*.whl")
    return wheel


@pytest.mark.slow
def test_the_image_entrypoint_serves_a_prediction(shared: Project, tmp_path: Path) -> None:
    """No Docker here: build a fresh virtual environment from exactly the generated
    requirements (dockyard from this checkout's wheel, through wheels/ as the Dockerfile
    does), then run the Dockerfile's CMD in it, with /app/ mapped to the build folder."""
    wheel = _dockyard_wheel(tmp_path / "wheel", tmp_path)
    build = tmp_path / "build"
    shared("containerize", "tiny@production", "-o", str(build), "--wheel", str(wheel))
    assert (build / "wheels" / wheel.name).is_file()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [
            str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
            "--find-links", str(build / "wheels"), "-r", str(build / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    cmd = next(
        json.loads(line[4:])
        for line in (build / "Dockerfile").read_text().splitlines()
        if line.startswith("CMD ")
    )
    port = free_port()
    cmd = [part.replace("/app/", f"{build}/") for part in cmd]
    cmd[cmd.index("--port") + 1] = str(port)
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        rows = [[0.0, 1.0], [1.0, 0.0], [0.2, 0.9]]
        answer = httpx.post(f"{base}/predict", json={"instances": rows}, timeout=10)
        assert answer.status_code == 200, answer.text
        from sklearn.linear_model import LogisticRegression

        X = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.8], [0.9, 0.2]]
        expected = LogisticRegression().fit(X, [0, 1, 0, 1]).predict(rows).tolist()
        assert answer.json() == {"predictions": expected, "model": "tiny", "version": 1}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
