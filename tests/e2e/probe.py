# A first probe of the real app in a real window (session 2), kept as the
# starting point of tests/e2e: WebKitWebDriver driven directly over HTTP.
# Run: xvfb-run -a -s "-screen 0 1280x800x24" bash -c \
#   'TAURI_WEBVIEW_AUTOMATION=true WebKitWebDriver --port=4445 & sleep 1; python3 tests/e2e/probe.py'
# with a vault at /tmp/appv (officer boss) made by `kinko init`.
import json, urllib.request, base64, time, subprocess, os, sys
def call(method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:4445"+path, method=method,
        data=json.dumps(body).encode() if body is not None else None, headers={"Content-Type":"application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=60).read())
caps={"capabilities":{"alwaysMatch":{"webkitgtk:browserOptions":{"binary":"/work/main/target/debug/kinko-app","args":["--vault","/tmp/appv"]}}}}
s=call("POST","/session",caps)["value"]["sessionId"]
def find(css):
    return call("POST",f"/session/{s}/element",{"using":"css selector","value":css})["value"]
def eid(e): return list(e.values())[0]
def shot(name):
    png=base64.b64decode(call("GET",f"/session/{s}/screenshot")["value"])
    open(f"/work/main/docs/screenshots/{name}.png","wb").write(png)
time.sleep(2)
shot("01-sign-in")
call("POST",f"/session/{s}/element/{eid(find('#user'))}/value",{"text":"boss"})
call("POST",f"/session/{s}/element/{eid(find('#password'))}/value",{"text":"Kinko-Vault-7q2x!"})
call("POST",f"/session/{s}/element/{eid(find('#signin-button'))}/click",{})
time.sleep(3)
shot("02-documents")
print(call("POST",f"/session/{s}/execute/sync",{"script":"return document.body.innerText","args":[]})["value"])
call("DELETE",f"/session/{s}")
