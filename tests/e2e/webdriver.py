"""A small W3C WebDriver client over the standard library, enough to drive
the real Kinko window through tauri-driver (which starts WebKitWebDriver
and the app). No third-party packages, so CI needs nothing from PyPI."""

import base64
import http.client
import json
import os
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52f-4d65726c656e"


class WebDriverError(Exception):
    pass


class Session:
    def __init__(self, url, application, args, env_note=""):
        self.url = url
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": application, "args": args},
        }}}
        self.started = time.monotonic()
        self.id = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        timeout = float(os.environ.get("WD_TIMEOUT", "120"))
        for attempt in range(4):
            req = urllib.request.Request(self.url + path, method=method, data=data,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    return json.loads(r.read())["value"]
            except urllib.error.HTTPError as e:
                raise WebDriverError(f"{method} {path}: {e.read().decode(errors='replace')[:400]}") from None
            except (ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError) as e:
                # tauri-driver 2.1 sometimes fails to pass a request on to
                # WebKitWebDriver over a pooled connection the latter had
                # closed ("client error (SendRequest)"): the request never
                # arrived, so sending it again is safe.
                if attempt == 3 or isinstance(getattr(e, "reason", None), TimeoutError):
                    raise
                time.sleep(0.3)

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.id}{path}", body)

    def quit(self):
        try:
            self.cmd("DELETE", "")
        except Exception:
            pass

    # --- elements -----------------------------------------------------
    def find_all(self, css):
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        if not isinstance(found, list):
            raise WebDriverError(f"finding {css}: {found}")
        return [e.get(ELEMENT) or next(iter(e.values())) for e in found]

    def wait(self, css, timeout=20.0):
        """The first element matching css, waiting for it to appear."""
        end = time.monotonic() + timeout
        while True:
            found = self.find_all(css)
            if found:
                return found[0]
            if time.monotonic() > end:
                raise AssertionError(f"{css} did not appear; the page says: {self.text('body')[:600]}")
            time.sleep(0.15)

    def wait_text(self, css, needle, timeout=20.0):
        end = time.monotonic() + timeout
        while True:
            try:
                if self.find_all(css) and needle in self.text(css, timeout=1):
                    return
            except (WebDriverError, AssertionError):
                pass  # replaced while being read: look again
            if time.monotonic() > end:
                raise AssertionError(f"{needle!r} not in {css}; the page says: {self.text('body')[:800]}")
            time.sleep(0.15)

    def click(self, css):
        self.cmd("POST", f"/element/{self.wait(css)}/click", {})

    def type(self, css, text, clear=True):
        e = self.wait(css)
        if clear:
            self.cmd("POST", f"/element/{e}/clear", {})
        if text:
            self.cmd("POST", f"/element/{e}/value", {"text": text})
        else:
            # Clearing alone fires no input event; the page listens for one.
            self.js("document.querySelector(arguments[0]).dispatchEvent(new Event('input', {bubbles: true}))", css)

    def set_value(self, css, value):
        """Set an input's value as the person would have (date inputs)."""
        self.wait(css)
        self.js("const e = document.querySelector(arguments[0]); e.value = arguments[1];"
                "e.dispatchEvent(new Event('input', {bubbles: true}));", css, value)

    def text(self, css, timeout=20.0):
        """The visible text of the first element matching css, waiting
        for it to appear."""
        if css == "body":
            found = self.find_all(css)
            return self.cmd("GET", f"/element/{found[0]}/text") if found else ""
        return self.cmd("GET", f"/element/{self.wait(css, timeout)}/text")

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        """Run script whose last argument is the callback to call with the result."""
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def pointer(self, css, steps):
        """Mouse actions on the element css: steps are ("down", button),
        ("up", button) or ("move", dx, dy) relative to its centre."""
        self.wait(css)
        x, y = self.js("const r = document.querySelector(arguments[0]).getBoundingClientRect();"
                       "return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];", css)
        actions = [{"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y}]
        for step in steps:
            if step[0] == "move":
                actions.append({"type": "pointerMove", "duration": 300, "origin": "viewport",
                                "x": x + step[1], "y": y + step[2]})
            else:
                actions.append({"type": f"pointer{step[0].capitalize()}", "button": step[1]})
        self.cmd("POST", "/actions", {"actions": [
            {"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": actions}]})
        self.cmd("DELETE", "/actions")

    def handles(self):
        return self.cmd("GET", "/window/handles")

    def screenshot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
