"""The widgets in a real browser: the venv's JupyterLab, Debian's Chromium driven by Playwright.

Opens tests/browser/widgets.ipynb, runs it, clicks Run on the zombies DemoPanel and waits for a
process drawn in state Z, then the end and the explanation; checks the %%contained cell's tree;
clicks Run then Kill on a long run. Fails on any browser console error or a traceback in the
server's (and so the kernel's) log; screenshots go to tests/artifacts/. Needs /usr/bin/chromium
and the playwright package (the dev extra); elsewhere than CI it skips without them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "browser" / "widgets.ipynb"
OVERRIDES = ROOT / "jupyter" / "overrides.json"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
RUN = re.compile(r"^\W*Run$")  # the button says Run (after its icon), not Run fixed or Run C
ENABLE = (
    "browser test skipped: run `apt-get install -y chromium` and `pip install -e '.[dev]'` "
    "(playwright) to enable it; with CI=true it is a failure"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-breakpad",
    "--disable-crash-reporter",
]


def _reap_browser_orphans() -> set[int]:
    """Chromium's helpers (crashpad) double-fork; as orphans they come to us, the suite's
    subreaper. Reap those that exited; return those still alive after a few seconds."""
    me = os.getpid()
    end = time.monotonic() + 5
    while True:
        left = set()
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{name}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if int(fields[1]) != me or not comm.startswith(("chrom", "chrome_crashpad")):
                continue
            if fields[0] == "Z":
                try:
                    os.waitpid(int(name), os.WNOHANG)
                except ChildProcessError:
                    pass
            else:
                left.add(int(name))
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.1)


def _need_browser() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package"
    else:
        missing = "" if os.access(CHROMIUM, os.X_OK) else CHROMIUM
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {missing} is missing: the browser test must run in CI")
        pytest.skip(ENABLE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _session_members(sid: int) -> set[int]:
    out = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                out.add(int(name))
    return out


class Lab:
    """JupyterLab on a free loopback port with a token, in a session of its own."""

    def __init__(self, root: Path) -> None:
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.log_path = root / "lab.log"
        settings = root / "app-settings"
        settings.mkdir()
        shutil.copy(OVERRIDES, settings / "overrides.json")
        env = dict(os.environ)
        for var, sub in (
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "user-settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
            ("IPYTHONDIR", "ipython"),
        ):
            env[var] = str(root / sub)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={root / 'nb'}", f"--LabApp.app_settings_dir={settings}",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.news_url=",
            ],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        end = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > end:
                    self.stop()
                    raise RuntimeError("JupyterLab did not start:\n" + self.log()) from None
                time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> set[int]:
        """Shut the server down (kernels too); return what of its session was left (killed)."""
        if self.proc.poll() is None:
            req = urllib.request.Request(
                f"{self.url}/api/shutdown", method="POST",
                headers={"Authorization": f"token {self.token}"},
            )  # fmt: skip
            try:
                urllib.request.urlopen(req, timeout=5).close()
            except OSError:
                self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        end = time.monotonic() + 5
        while (left := _session_members(self.proc.pid)) and time.monotonic() < end:
            time.sleep(0.1)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log.close()
        return left


@pytest.fixture
def lab() -> Iterator[Lab]:
    _need_browser()
    with tempfile.TemporaryDirectory(prefix="fork110-lab-") as tmp:
        root = Path(tmp)
        (root / "nb").mkdir()
        shutil.copy(NOTEBOOK, root / "nb" / "widgets.ipynb")
        server = Lab(root)
        try:
            yield server
        finally:
            left = server.stop()
            assert not left, f"JupyterLab left processes behind: {sorted(left)}"


@pytest.mark.slow
def test_widgets_in_jupyterlab(lab: Lab) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fork110-chromium-") as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_default_timeout(60_000)
            page.goto(f"{lab.url}/lab/tree/widgets.ipynb?token={lab.token}")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            panels = page.locator(".fork110-demopanel")
            panels.nth(1).wait_for()
            zombies, long = panels.nth(0), panels.nth(1)
            assert "official Jupyter news" not in page.content()
            # each widget's static copy (for readers without a kernel) is there, but hidden
            assert page.locator(".fork110-static").count() >= 2
            assert page.locator(".fork110-static:visible").count() == 0

            # the zombies demo: Run, a process drawn in state Z, then the end and the explanation
            zombies.get_by_role("button", name=RUN).click()
            clicked = time.monotonic()
            zombies.locator(".fork110-treeview g.proc").first.wait_for()
            first_tree = time.monotonic() - clicked
            zombies.locator('g.proc[data-state="Z"]').first.wait_for()
            zombies.scroll_into_view_if_needed()
            zombies.screenshot(path=str(ARTIFACTS / "demopanel-midrun.png"))
            zombies.locator(".fork110-explanation").wait_for()
            assert "zombie" in zombies.locator(".fork110-explanation").inner_text()
            zombies.screenshot(path=str(ARTIFACTS / "demopanel-end.png"))

            # the %%contained cell: its output, and its tree drawn to the end
            cell = page.locator(".jp-CodeCell").nth(2)
            cell.locator(".fork110-treeview .fork110-summary").wait_for()
            text = cell.inner_text()
            assert "says hello" in text and "parent reaped" in text and "over" in text
            cell.scroll_into_view_if_needed()
            cell.screenshot(path=str(ARTIFACTS / "contained-cell.png"))

            # a long run: Run, then Kill
            long.get_by_role("button", name=RUN).click()
            long.locator(".fork110-treeview g.proc").first.wait_for()
            long.get_by_role("button", name=re.compile(r"^\W*Kill$")).click()
            long.get_by_text("You killed this run").wait_for()
            long.scroll_into_view_if_needed()
            long.screenshot(path=str(ARTIFACTS / "demopanel-killed.png"))
            page.screenshot(path=str(ARTIFACTS / "lab.png"))

            # be the parent: fork twice, let one exit (a zombie appears), SIGKILL it (nothing)
            parent = page.locator(".fork110-parent")
            parent.scroll_into_view_if_needed()
            parent.get_by_role("button", name="fork()").click()
            parent.locator('g.proc[data-state="S"]').nth(1).wait_for()
            parent.get_by_role("button", name="fork()").click()
            parent.locator('g.proc[data-state="S"]').nth(2).wait_for()
            parent.get_by_role("button", name="let a child exit").click()
            parent.locator('g.proc[data-state="Z"]').first.wait_for()
            parent.get_by_role("button", name="SIGKILL a zombie").click()
            parent.get_by_text("nothing happened").wait_for()
            parent.screenshot(path=str(ARTIFACTS / "be-the-parent.png"))

            # the Command playground: edit the environment, see Rust follow, run it
            play = page.locator(".fork110-command")
            play.scroll_into_view_if_needed()
            play.locator("textarea").fill("GREETING=hello from the playground")
            play.get_by_text('.env("GREETING", "hello from the playground")').wait_for()
            play.get_by_role("button", name=re.compile("Run")).click()
            play.get_by_text("exit status: 3").first.wait_for()
            play.screenshot(path=str(ARTIFACTS / "command-playground.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"))
            raise
        finally:
            browser.close()
    stray = _reap_browser_orphans()
    assert not stray, f"Chromium left processes behind: {sorted(stray)}"
    (ARTIFACTS / "browser.json").write_text(json.dumps({"first_tree_seconds": first_tree}))
    print(f"\nfirst tree on screen {first_tree:.3f} s after clicking Run")
    assert not errors, f"browser console errors: {errors}"
    assert "Traceback" not in lab.log(), lab.log()
