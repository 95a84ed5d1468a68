"""End to end: the real Kinko app in a real window (Xvfb), driven through
tauri-driver and WebKitWebDriver. One council's life in order: first run,
sign-in with TOTP, accounts, rosters, receipt, viewing, grants, a refused
access, the audit screen, lock and unlock, incidents, the status report
and a disposal. Every main screen is saved to docs/screenshots/.

Run with tests/e2e/run.sh (it starts Xvfb and tauri-driver)."""

import os
import pathlib
import re
import subprocess
import time
import unittest

from helpers import Authenticator, app_pids, network_sockets_of, pdf_with_text, png_with_stripes
from webdriver import Session

REPO = pathlib.Path(__file__).resolve().parents[2]
APP = os.environ.get("KINKO_APP", str(REPO / "target/debug/kinko-app"))
WORK = pathlib.Path(os.environ["KINKO_E2E_DIR"])
SHOTS = REPO / "docs/screenshots"
DRIVER = os.environ.get("KINKO_DRIVER", "http://127.0.0.1:4444")

OFFICER_PW = "Kinko-Vault-7q2x!"
MARKUP = "<img src=x onerror=alert(1)>"
MARKER = "VIEW-MARKER-E2E"


class CouncilLife(unittest.TestCase):
    """The steps share one window and one vault, in order."""

    @classmethod
    def setUpClass(cls):
        for d in ("files", "out", "export"):
            (WORK / d).mkdir(parents=True, exist_ok=True)
        SHOTS.mkdir(parents=True, exist_ok=True)
        cls.auth = Authenticator()
        cls.passwords = {"kanri": OFFICER_PW}
        cls.w = Session(DRIVER, APP, ["--vault", str(WORK / "vault")])

    @classmethod
    def tearDownClass(cls):
        cls.w.quit()

    failed = False

    def run(self, result=None):
        # Each step builds on the ones before: after a failure the rest
        # are skipped rather than failing for the same reason.
        if CouncilLife.failed and result is not None:
            result.startTest(self)
            result.addSkip(self, "an earlier step failed")
            result.stopTest(self)
            return result
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            CouncilLife.failed = True
            self.shot(f"failed-{self._testMethodName}")
        return out

    # --- helpers ------------------------------------------------------
    def shot(self, name):
        self.w.screenshot(str(SHOTS / f"{name}.png"))

    def sign_in(self, person):
        w = self.w
        w.wait("#signin")
        w.type("#user", person)
        w.type("#password", self.passwords[person])
        if person in self.auth.secrets:
            w.type("#totp", self.auth.code(person))
        w.click("#signin-submit")

    def first_sign_in(self, person, initial):
        """A new person: initial password, their own password, TOTP."""
        w = self.w
        self.passwords[person] = initial
        self.sign_in(person)
        w.wait("#change-password")
        own = f"Zq8!own-Secret-{len(person)}x{ord(person[0])}"
        w.type("#new-password", own)
        w.type("#new-password-2", own)
        w.click("#change-password-submit")
        self.passwords[person] = own
        self.enrol(person)

    def enrol(self, person):
        w = self.w
        w.wait("#totp-qr")
        self.auth.secrets[person] = w.text("#totp-secret").strip()
        w.type("#totp-code", self.auth.code(person))
        w.click("#totp-enrol-submit")
        w.wait("header #who")

    def sign_out(self):
        self.w.click("#signout")
        self.w.wait("#signin")

    def go(self, screen):
        self.w.click(f"#nav-{screen}")

    def message(self):
        return self.w.text("#message")

    # --- the life -----------------------------------------------------
    def test_01_first_run_creates_the_vault_and_shows_the_recovery_code_once(self):
        w = self.w
        w.wait("#first-run")
        print(f"\nfirst screen shown {time.monotonic() - w.started:.2f} s after the session was requested")
        self.shot("01-first-run")
        w.type("#council", "○○雇用対策協議会")
        w.type("#officer-id", "kanri")
        w.type("#officer-name", "管理 責任者")
        w.type("#new-password", OFFICER_PW)
        w.type("#new-password-2", "typo" + OFFICER_PW)
        w.click("#first-run-submit")
        w.wait_text("#message", "一致しません")
        w.type("#new-password-2", OFFICER_PW)
        w.click("#first-run-submit")
        code = w.text("#recovery-code")
        self.assertGreaterEqual(len(code.strip()), 20)
        self.shot("02-recovery-code")
        w.click("#recovery-done")
        w.wait("#signin")
        self.assertEqual(w.find_all("#recovery-code"), [])

    def test_02_sign_in_enrols_totp_then_needs_the_code(self):
        w = self.w
        self.shot("03-sign-in")
        self.sign_in("kanri")
        w.wait("#totp-qr")
        self.shot("04-totp-enrol")
        self.auth.secrets["kanri"] = w.text("#totp-secret").strip()
        w.type("#totp-code", "000000" if self.auth.code("kanri") != "000000" else "111111")
        w.click("#totp-enrol-submit")
        w.wait_text("#message", "入力内容に誤り")
        w.type("#totp-code", self.auth.code("kanri"))
        w.click("#totp-enrol-submit")
        w.wait("#nav-documents")
        self.sign_out()
        # Without the code, the right password is not enough.
        w.type("#user", "kanri")
        w.type("#password", OFFICER_PW)
        w.click("#signin-submit")
        w.wait_text("#message", "ワンタイムコード")
        self.sign_in("kanri")
        w.wait("#nav-documents")

    def test_03_accounts_show_names_as_text(self):
        w = self.w
        self.go("accounts")
        for person, name, role in (("tanaka", MARKUP, "handler"), ("sato", "佐藤 次郎", "manager")):
            w.type("#account-id", person)
            w.type("#account-name", name)
            w.js("document.querySelector('#account-roles').value = arguments[0]", role)
            w.click("#account-add")
            w.wait_text("#initial-password", f"{person}: ")
            self.passwords[person] = w.text("#initial-password").split(": ", 1)[1].strip()
            self.go("accounts")
            w.wait_text("#accounts", person)
        self.assertIn(MARKUP, w.text("#accounts"))
        self.assertEqual(w.find_all("#accounts img"), [], "a name became markup")
        self.shot("05-accounts")

    def test_04_rosters_request_and_bureau_approval(self):
        w = self.w
        self.go("rosters")
        w.type("#roster-person", "tanaka")
        w.type("#roster-name", "田中 花子")
        w.type("#roster-department", "相談課")
        w.type("#roster-position", "主任")
        w.type("#roster-address", "東京都千代田区1-1")
        w.set_value("#roster-birth", "1985-04-01")
        w.click("#roster-request")
        w.wait_text("#roster-requests", "tanaka")
        w.type("#roster-ref", "労発1126第1号")
        w.set_value("#roster-date", "2026-11-26")
        w.click("#roster-requests button[id^='approve-']")
        w.wait_text("#roster-entries", "労発1126第1号")
        self.shot("06-rosters")

    def test_05_receive_files_with_progress(self):
        w = self.w
        files = WORK / "files"
        (files / "soudan.pdf").write_bytes(pdf_with_text(MARKER))
        (files / "meibo.csv").write_bytes(f"氏名,住所\n{MARKER},東京\n".encode())
        (files / "form.docx").write_bytes(b"PK\x03\x04 not viewable")
        (files / "scan.png").write_bytes(png_with_stripes())
        for name, title, purpose, personal in (
            ("soudan.pdf", MARKUP + "相談記録", "就労支援", True),
            ("meibo.csv", "受講者名簿", "研修", True),
            ("form.docx", "様式", "研修", False),
            ("scan.png", "スキャン画像", "就労支援", False),
        ):
            self.go("import")
            w.type("#import-path", str(files / name))
            w.type("#import-title", title)
            w.type("#import-origin", "労働局 職業安定課")
            w.type("#import-via", "USBメモリ")
            w.type("#import-purpose", purpose)
            box = w.wait("#import-personal")
            if w.js("return document.querySelector('#import-personal').checked") != personal:
                w.cmd("POST", f"/element/{box}/click", {})
            w.click("#import-submit")
            w.wait_text("#message", "受領しました")
        self.assertEqual(w.js("return document.querySelector('#import-progress').value"), 100)
        self.shot("07-import")

    def test_06_document_list_searches_and_filters(self):
        w = self.w
        self.go("documents")
        w.wait("#documents")
        self.assertEqual(len(w.find_all("#documents tbody tr")), 4)
        self.assertIn(MARKUP, w.text("#documents"))
        self.assertEqual(w.find_all("#documents img"), [], "a title became markup")
        self.shot("08-documents")
        w.type("#doc-search", "名簿")
        self.assertEqual(len(w.find_all("#documents tbody tr")), 1)
        w.type("#doc-search", "")
        w.js("const s = document.querySelector('#doc-purpose'); s.value = '研修';"
             "s.dispatchEvent(new Event('input'))")
        self.assertEqual(len(w.find_all("#documents tbody tr")), 2)  # the CSV and the .docx

    def test_07_viewer_renders_from_memory_with_a_watermark(self):
        w = self.w
        self.go("documents")
        w.click("#view-1")
        w.wait("#pdf-page-1", timeout=40)
        self.assertIn("kanri", w.text("#viewer-mark"))
        self.assertGreater(len(w.find_all(".page .watermark span")), 0)
        painted = w.js("const c = document.querySelector('#pdf-page-1');"
                       "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                       "let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 100) dark++; return dark;")
        self.assertGreater(painted, 50, "the PDF page is blank")
        self.assertEqual(w.find_all("#message.error"), [], w.text("body")[:300])
        self.shot("09-viewer-pdf")
        w.click("#viewer-close")
        w.click("#view-2")
        w.wait_text("#viewer-table", MARKER)
        self.shot("10-viewer-csv")
        w.click("#viewer-close")
        w.click("#view-4")
        w.wait("#viewer-image")
        loaded = w.js("const i = document.querySelector('#viewer-image');"
                      "return i.complete && i.naturalWidth === 160 && i.src.startsWith('blob:');")
        self.assertTrue(loaded, "the image did not load from memory")
        w.click("#viewer-close")
        w.click("#view-3")
        w.wait("#not-viewable")
        w.wait_text("#message", "対応していません")

    def test_08_grant_to_a_handler_on_the_roster(self):
        w = self.w
        self.go("documents")
        w.click("#doc-1")
        w.type("#grant-person", "sato")
        w.click("#grant-submit")
        w.wait_text("#message", "許可されていません")  # not on the handler roster
        w.type("#grant-person", "tanaka")
        w.click("#grant-submit")
        w.wait_text("#holders", "tanaka")
        self.shot("11-grants")
        self.go("grants")
        w.wait_text("#grants-tanaka", "相談記録")
        self.assertEqual(w.find_all("#grants-tanaka img"), [])
        self.shot("11b-grants-by-person")

    def test_09_audit_screen_verifies_and_saves_a_checkpoint(self):
        w = self.w
        self.go("audit")
        w.wait("#audit-chart")
        w.wait_text("#audit-log", "document.view")
        w.click("#audit-verify")
        w.wait_text("#verify-result", "✔")
        w.type("#checkpoint-folder", str(WORK / "out"))
        w.click("#checkpoint-save")
        w.wait_text("#message", "kinko-checkpoint-")
        self.assertTrue(list((WORK / "out").glob("kinko-checkpoint-*.json")))
        self.shot("12-audit")

    def test_10_lock_and_unlock_return_to_the_same_screen(self):
        w = self.w
        w.click("#lock")
        w.wait("#lock-screen")
        self.assertEqual(w.find_all("#audit-log"), [], "the locked window still shows the trail")
        self.shot("13-locked")
        w.type("#password", OFFICER_PW)
        w.type("#totp", self.auth.code("kanri"))
        w.click("#signin-submit")
        w.wait("#audit-chart")

    def test_11_idle_time_locks_the_window(self):
        w = self.w
        self.go("policy")
        w.type("#policy-session\\.idle_minutes", "1")
        w.click("#set-session\\.idle_minutes")
        w.wait_text("#message", "session.idle_minutes = 1")
        w.wait("#lock-screen", timeout=100)
        w.type("#password", OFFICER_PW)
        w.type("#totp", self.auth.code("kanri"))
        w.click("#signin-submit")
        w.wait("#policy")
        w.type("#policy-session\\.idle_minutes", "15")
        w.click("#set-session\\.idle_minutes")
        w.wait_text("#message", "session.idle_minutes = 15")
        self.shot("14-policy")

    def test_12_a_handler_sees_only_documents_and_is_refused_an_export(self):
        w = self.w
        self.sign_out()
        self.first_sign_in("tanaka", self.passwords["tanaka"])
        w.wait("#nav-documents")
        self.assertEqual(w.find_all("#nav-accounts"), [])
        self.assertEqual(w.find_all("#nav-audit"), [])
        w.click("#view-1")
        w.wait("#pdf-page-1", timeout=40)
        self.assertIn("tanaka", w.text("#viewer-mark"))
        w.click("#viewer-close")
        w.click("#doc-1")
        w.type("#export-folder", str(WORK / "export"))
        w.click("#export-submit")
        w.wait_text("#message", "許可されていません")
        self.assertEqual(list((WORK / "export").iterdir()), [])
        self.shot("15-refused")

    def test_13_alerts_incidents_and_the_status_report(self):
        w = self.w
        self.sign_out()
        self.sign_in("kanri")
        w.wait("#nav-alerts")
        self.go("alerts")
        w.wait("#alerts, #no-alerts")
        self.shot("16-alerts")
        self.go("incidents")
        w.type("#incident-detected", "2026-11-26 10:00")
        w.type("#incident-summary", MARKUP + "USBメモリの所在不明")
        w.type("#incident-items", "document:2")
        w.type("#incident-actions", "保管庫を確認し局へ第一報")
        w.click("#incident-add")
        w.wait_text("#incidents", "USBメモリの所在不明")
        self.assertEqual(w.find_all("#incidents img"), [])
        self.shot("17-incidents")
        self.go("statusReport")
        w.type("#report-folder", str(WORK / "out"))
        w.click("#report-make")
        w.wait_text("#message", "kinko-status-")
        self.shot("18-status-report")

    def test_13b_about_shows_version_algorithms_and_dependencies(self):
        """I4: the app shows its version, its algorithms and its dependency
        inventory (the CycloneDX SBOM built into it)."""
        w = self.w
        self.go("about")
        w.wait_text("#about-version", "0.1.0")
        w.wait_text("#about-algorithms", "Camellia-256-GCM")
        components = w.text("#about-components")
        for name in ("tauri", "rusqlite", "aes-gcm", "kinko-core"):
            self.assertIn(name, components)
        self.shot("21-about")

    def test_14_english_is_one_click_away(self):
        w = self.w
        w.click("#lang")
        w.wait_text("nav", "Documents")
        self.go("documents")
        w.wait_text("#documents", "Title")
        self.shot("19-english")
        w.click("#lang")
        w.wait_text("nav", "文書")

    def test_15_contract_end_plan_approve_execute_confirm_report(self):
        w = self.w
        self.sign_out()
        self.first_sign_in("sato", self.passwords["sato"])
        self.sign_out()
        self.sign_in("kanri")
        self.go("contractEnd")
        w.wait_text("#disposal-state", "廃棄計画はまだありません")
        w.type("#disposal-folder", str(WORK / "out"))
        w.type("#plan-executor", "kanri")
        w.type("#plan-confirmer", "sato")
        w.set_value("#plan-date", "2026-12-25")
        w.click("#plan-make")
        w.wait("#approve-plan")
        # The SHA-256 is typed from the printed plan the bureau approved.
        plan = next((WORK / "out").glob("kinko-disposal-plan-*.html")).read_text()
        sha = re.search(r"SHA-256：([0-9a-f]{64})", plan).group(1)
        w.type("#approve-ref", "労発1126第9号")
        w.set_value("#approve-date", "2026-11-26")
        w.click("#approve-plan")
        w.wait_text("#message", "SHA-256")  # left empty: refused
        w.type("#approve-sha", "0" * 64)
        w.click("#approve-plan")
        w.wait_text("#message", "0000")  # another plan's: refused
        w.type("#approve-sha", sha)
        w.click("#approve-plan")
        w.click("#disposal-execute")
        w.click("#disposal-execute-sure")
        w.wait("#disposal-confirm", timeout=60)
        self.sign_out()
        self.sign_in("sato")
        self.go("contractEnd")
        w.click("#disposal-confirm")
        w.wait_text("#disposal-steps", "sato")
        self.sign_out()
        self.sign_in("kanri")
        self.go("contractEnd")
        w.type("#disposal-folder", str(WORK / "out"))
        w.click("#disposal-report")
        w.wait_text("#message", "kinko-disposal-report-")
        self.shot("20-contract-end")
        objects = [p for p in (WORK / "vault/objects").rglob("*") if p.is_file()]
        self.assertEqual(objects, [], "object files left after the disposal")

    def test_16_no_plaintext_was_left_on_disk(self):
        """D4: nothing the window showed reached a file: not the vault, not
        the webview's caches or storage under the app's home."""
        webkit = [p for p in (WORK / "home").rglob("*") if p.is_file()]
        self.assertTrue(webkit, "the app's home is empty: the scan would prove nothing")
        scanned = 0
        for root in (WORK / "vault", WORK / "home", WORK / "out", WORK / "export"):
            for p in root.rglob("*"):
                if p.is_file():
                    scanned += 1
                    self.assertNotIn(MARKER.encode(), p.read_bytes(), f"plaintext in {p}")
        print(f"\nscanned {scanned} files, {len(webkit)} of them under the app's home")

    def test_17_the_app_holds_no_network_socket(self):
        """I4: the app makes no network connection of its own. Launched
        plainly (no driver), the app and its web processes hold no IPv4 or
        IPv6 socket at all. The driven app, after a whole council's life,
        holds none either apart from WebKit's automation server on loopback
        at the port WebKitWebDriver asked for."""
        held, pids = network_sockets_of(app_pids(APP))
        self.assertTrue(pids, "the app's processes were not found: the check would prove nothing")
        self.assertEqual(held, [], f"network sockets held by the driven app: {held}")
        home = WORK / "plain-home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBKIT_INSPECTOR", "TAURI_WEBVIEW_AUTOMATION"))}
        env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
                   XDG_CONFIG_HOME=str(home / "config"))
        plain = subprocess.Popen([APP, "--vault", str(WORK / "plain-vault")], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(6)
            self.assertIsNone(plain.poll(), "the plainly launched app did not stay up")
            held, plain_pids = network_sockets_of([plain.pid])
            self.assertGreater(len(plain_pids), 1, "the app's web processes were not found")
            self.assertEqual(held, [], f"network sockets held by the app: {held}")
        finally:
            plain.terminate()
            plain.wait(10)
        print(f"\nchecked {len(pids)} driven and {len(plain_pids)} plain processes of the app")


if __name__ == "__main__":
    unittest.main(verbosity=2)
