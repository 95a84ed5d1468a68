"""End to end against an office server (issue 16): the real app in a real
window, connected in its connection setting to a trial server
(scripts/server.sh: kinko-server with a PostgreSQL of its own on
loopback). The officer connects the PC, makes the vault on the server,
signs in, receives a document, grants it and reads the audit trail; a
handler at the same PC views it; another terminal (the `kinko` command
with a state folder of its own) sees the same vault.

Run with tests/e2e/run.sh, after test_app."""

import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from helpers import Authenticator, pdf_with_text
from steps import REPO, Steps
from webdriver import Session

APP = os.environ.get("KINKO_APP") or str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug/kinko-app")
KINKO = os.environ.get("KINKO_CLI") or str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug/kinko")
WORK = pathlib.Path(os.environ["KINKO_E2E_DIR"])
DRIVER = os.environ.get("KINKO_DRIVER", "http://127.0.0.1:4444")

OFFICER_PW = "Kinko-Server-8r4t!"
MARKER = "SERVER-VIEW-MARKER"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TrialServer:
    """scripts/server.sh with this build's binaries, in a folder of its
    own, until stopped (Ctrl-C to its process group)."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="kinko-e2e-server-"))
        # As root the script runs PostgreSQL as its own user, which must
        # reach the folder.
        os.chmod(self.dir, 0o711)
        self.port = free_port()
        env = dict(os.environ, KINKO_TRIAL_DIR=str(self.dir / "trial"),
                   KINKO_TRIAL_PG_PORT=str(free_port()),
                   KINKO_TRIAL_LISTEN=f"127.0.0.1:{self.port}",
                   KINKO_TRIAL_BIN=str(pathlib.Path(KINKO).parent))
        self.process = subprocess.Popen(["bash", str(REPO / "scripts/server.sh")], env=env,
                                        stdout=subprocess.PIPE, text=True, start_new_session=True)
        said = []
        deadline = time.monotonic() + 120
        for line in self.process.stdout:
            said.append(line)
            if "listening on" in line or time.monotonic() > deadline:
                break
        text = "".join(said)
        self.fingerprint = text.split("CA fingerprint:")[1].split()[0]
        self.token = text.split("(24 hours):")[1].split()[0]
        self.url = f"https://127.0.0.1:{self.port}"

    def new_token(self):
        r = subprocess.run([str(pathlib.Path(KINKO).parent / "kinko-server"), "device", "token",
                            "--dir", str(self.dir / "trial/server")],
                           capture_output=True, text=True, check=True)
        return r.stdout.strip()

    def stop(self):
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=60)


class OfficeServer(Steps, unittest.TestCase):
    """The steps share one window, one server and its vault, in order."""

    @classmethod
    def setUpClass(cls):
        cls.server = TrialServer()
        cls.auth = Authenticator()
        cls.passwords = {"kanri": OFFICER_PW}
        # A state folder of the app's own: its enrolment and its replica.
        cls.w = Session(DRIVER, APP, ["--vault", str(WORK / "server-app-vault"),
                                      "--state-dir", str(WORK / "server-app-state")])

    @classmethod
    def tearDownClass(cls):
        cls.w.quit()
        cls.server.stop()

    def kinko(self, args, code=0, **env):
        """The `kinko` command at another terminal of the same server."""
        full = dict(os.environ, KINKO_LANG="en", KINKO_STATE_DIR=str(WORK / "server-cli-terminal"))
        full.pop("KINKO_SERVER", None)
        full.update(env)
        r = subprocess.run([KINKO, *args], env=full, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, code, r.stderr)
        return r.stdout

    def test_01_the_pc_connects_and_makes_the_vault_on_the_server(self):
        w = self.w
        w.wait("#first-run")
        w.click("#to-connect")
        w.wait("#connect-form")
        w.type("#server-url", self.server.url)
        # A fingerprint that is not the server's: refused, nothing kept.
        w.type("#server-fingerprint", "00" * 32)
        w.type("#server-token", self.server.token)
        w.click("#connect-form-submit")
        w.wait("#message.error")
        self.assertEqual(w.find_all("#connected-server"), [])
        w.type("#server-fingerprint", self.server.fingerprint)
        w.type("#server-token", self.server.token)
        self.shot("20-server-connect")
        w.click("#connect-form-submit")
        w.wait("#first-run")
        w.wait_text("#connected-server", self.server.url)
        w.type("#council", "○○雇用対策協議会")
        w.type("#officer-id", "kanri")
        w.type("#officer-name", "管理 責任者")
        w.type("#new-password", OFFICER_PW)
        w.type("#new-password-2", OFFICER_PW)
        w.click("#first-run-submit")
        self.assertGreaterEqual(len(w.text("#recovery-code").strip()), 20)
        w.click("#recovery-done")
        w.wait("#signin")
        w.wait_text("#connected-server", self.server.url)
        self.shot("21-server-sign-in")

    def test_02_sign_in_and_a_handler_on_the_roster(self):
        w = self.w
        self.sign_in("kanri")
        self.enrol("kanri")
        w.wait("#nav-documents")
        initial = self.add_account("tanaka", "田中 花子", "handler")
        self.put_on_roster("tanaka", "田中 花子", "労発1207第1号", "2026-12-07")
        self.sign_out()
        fingerprint = self.first_sign_in("tanaka", initial)
        self.signed_in("kanri")
        self.certify("tanaka", fingerprint)

    def test_03_receipt_on_the_server(self):
        w = self.w
        files = WORK / "server-files"
        files.mkdir(exist_ok=True)
        (files / "soudan.pdf").write_bytes(pdf_with_text(MARKER))
        self.go("import")
        self.choose("import-file", files / "soudan.pdf")
        w.type("#import-title", "相談記録（サーバー）")
        w.type("#import-origin", "労働局 職業安定課")
        w.type("#import-via", "USBメモリ")
        w.type("#import-purpose", "就労支援")
        w.click("#import-submit")
        w.wait_text("#message", "受領しました")
        self.go("documents")
        w.wait_text("#documents", "相談記録（サーバー）")
        self.shot("22-server-documents")

    def test_04_grant_then_the_handler_views_it(self):
        w = self.w
        self.go("documents")
        w.click("#doc-1")
        w.type("#grant-person", "tanaka")
        w.click("#grant-submit")
        w.wait_text("#holders", "tanaka")
        self.sign_out()
        self.signed_in("tanaka")
        w.wait_text("#documents", "相談記録（サーバー）")
        w.click("#view-1")
        w.wait("#pdf-page-1", timeout=40)
        self.assertIn("tanaka", w.text("#viewer-mark"))
        self.shot("23-server-viewer")
        w.click("#viewer-close")
        self.sign_out()

    def test_05_the_audit_trail_shows_the_view_and_verifies(self):
        w = self.w
        self.signed_in("kanri")
        self.go("audit")
        w.wait_text("#audit-log", "document.view")
        w.click("#audit-verify")
        w.wait_text("#verify-result", "✔")
        self.shot("24-server-audit")

    def test_06_another_terminal_sees_the_same_vault(self):
        self.kinko(["device", "enroll", "--server", self.server.url, "--ca-fingerprint",
                    self.server.fingerprint, "--token", self.server.new_token(), "--wait", "0"])
        listed = self.kinko(["--server", self.server.url, "list"], KINKO_USER="kanri",
                            KINKO_PASSWORD=OFFICER_PW, KINKO_TOTP=self.auth.code("kanri"))
        self.assertIn("相談記録（サーバー）", listed)


if __name__ == "__main__":
    unittest.main()
