"""What the window tests share: the steps a person takes in the window
(sign in, a first sign-in with TOTP, certify, choose a file, go to a
screen) and the rule that a step after a failed one is skipped."""

import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]
SHOTS = REPO / "docs/screenshots"
# The drivable build answers its file chooser from this file (written
# before each click); the shipped build always opens the system dialog.
CHOOSER = pathlib.Path(os.environ["KINKO_E2E_CHOOSER"])


class Steps:
    """Mixed into a unittest.TestCase whose class sets `w` (the window),
    `auth` (an Authenticator) and `passwords`."""

    failed = False

    def run(self, result=None):
        # Each step builds on the ones before: after a failure the rest
        # are skipped rather than failing for the same reason.
        if type(self).failed and result is not None:
            result.startTest(self)
            result.addSkip(self, "an earlier step failed")
            result.stopTest(self)
            return result
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            type(self).failed = True
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
        """A new person: initial password, their own password, TOTP; then
        their keys await the officer. Returns the fingerprint they show."""
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
        w.wait("#awaiting-certification")
        fingerprint = w.text("#key-fingerprint").strip()
        w.click("#pending-signout")
        w.wait("#signin")
        return fingerprint

    def certify(self, person, fingerprint):
        """The officer, signed in, certifies `person` on the accounts
        screen with the fingerprint the person's screen showed."""
        w = self.w
        self.go("accounts")
        w.type(f"#certify-fp-{person}", fingerprint)
        w.click(f"#certify-{person}")
        w.wait_text(f"#cert-{person}", "認証済み")

    def add_account(self, person, name, role):
        """The system administrator, on the accounts screen, adds `person`;
        their initial password is kept for their first sign-in."""
        w = self.w
        self.go("accounts")
        w.type("#account-id", person)
        w.type("#account-name", name)
        w.js("document.querySelector('#account-roles').value = arguments[0]", role)
        w.click("#account-add")
        w.wait_text("#initial-password", f"{person}: ")
        self.passwords[person] = w.text("#initial-password").split(": ", 1)[1].strip()
        return self.passwords[person]

    def put_on_roster(self, person, name, ref, date):
        """Ask for `person` on the handler roster, then record the
        bureau's approval `ref` of `date` (YYYY-MM-DD)."""
        w = self.w
        self.go("rosters")
        w.type("#roster-person", person)
        w.type("#roster-name", name)
        w.type("#roster-department", "相談課")
        w.type("#roster-position", "主任")
        w.type("#roster-address", "東京都千代田区1-1")
        w.set_value("#roster-birth", "1985-04-01")
        w.click("#roster-request")
        w.wait_text("#roster-requests", person)
        w.type("#roster-ref", ref)
        w.set_value("#roster-date", date)
        w.click("#roster-requests button[id^='approve-']")
        w.wait_text("#roster-entries", ref)

    def signed_in(self, person):
        """Sign `person` in and wait for their screens."""
        self.sign_in(person)
        self.w.wait("#nav-documents")

    def enrol(self, person):
        w = self.w
        w.wait("#totp-qr")
        self.auth.secrets[person] = w.text("#totp-secret").strip()
        w.type("#totp-code", self.auth.code(person))
        w.click("#totp-enrol-submit")
        w.wait("header #who, #awaiting-certification")

    def sign_out(self):
        self.w.click("#signout")
        self.w.wait("#signin")

    def choose(self, control, path):
        """Pick `path` in the shell's chooser for `control`: the page gets
        back only a handle and shows the name."""
        CHOOSER.write_text(str(path))
        self.w.click(f"#{control}-pick")
        self.w.wait_text(f"#{control}", str(path))

    def open_alerts(self):
        """The number on the alerts button (0 when it shows none)."""
        found = self.w.find_all("#alert-badge")
        return int(self.w.text("#alert-badge")) if found else 0

    def go(self, screen):
        self.w.click(f"#nav-{screen}")

    def message(self):
        return self.w.text("#message")
