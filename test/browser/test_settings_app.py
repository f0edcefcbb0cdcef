#!/usr/bin/env python3
"""The settings app in a real browser (headless Chromium through Selenium), as a person meets it.

Alice signs in, creates a token with two scopes and 30 days, reads the secret from the page and
calls the API with it (allowed; a call needing a scope it lacks gets 403), edits its scopes
(the call is then allowed), keeps it to a network (refused from elsewhere) and a notebook (it
writes there only), suspends it (401) and resumes it, makes a token expiring in three days (highlighted), deletes the
first token (the next call gets 401). An agent's token (tokens:delegate) then mints a child over
the API, which the settings page lists under its parent; deleting the parent there kills the
child (401). Bob then signs in and sees none of Alice's tokens or
notes. A screenshot of each step goes to the output directory.

    test_settings_app.py BASE_URL OUTPUT_DIR     # prints ok / not ok lines, then "N passed, M failed"
"""
import datetime
import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

BASE, OUT = sys.argv[1].rstrip("/"), sys.argv[2]
os.makedirs(OUT, exist_ok=True)
results = []


def check(what, condition, detail=""):
    results.append(bool(condition))
    print(f"{'ok' if condition else 'not ok'} - {what}" + (f" ({detail})" if detail and not condition else ""))
    sys.stdout.flush()


def delegate(token, name, scopes, expires=None):
    """An agent's call minting a child token: (status, WWW-Authenticate, JSON body)."""
    return api("POST", token, {"name": name, "scopes": scopes, "expires": expires}, "/api/tokens")


def api(method, token, body=None, path="/api/notes"):
    """(status, WWW-Authenticate, JSON body) of one API call."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{BASE}{path}", data=data, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("WWW-Authenticate"), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("WWW-Authenticate"), json.load(error)


options = webdriver.ChromeOptions()
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000"):
    options.add_argument(argument)
browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
browser.implicitly_wait(5)
step = 0


def shot(name):
    global step
    step += 1
    browser.save_screenshot(os.path.join(OUT, f"{step:02d}-{name.replace(' ', '-')}.png"))


def sign_in(user):
    browser.get(f"{BASE}/login")
    browser.find_element(By.ID, "user_id").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(f"{user}-password")
    shot(f"{user}-signs-in")
    browser.find_element(By.ID, "sign-in").click()
    return browser.find_element(By.ID, "signed-in-user").text == user


def token_rows():
    return {row.get_attribute("data-name"): row
            for row in browser.find_elements(By.CSS_SELECTOR, "#tokens tbody tr[data-name]")}


def scopes_of(row):
    return [badge.text for badge in row.find_elements(By.CSS_SELECTOR, ".scopes .badge")]


def create_token(name, scopes, expiration, custom_date=None):
    browser.find_element(By.ID, "token-name").send_keys(name)
    for scope in scopes:
        browser.find_element(By.ID, f"scope-{scope}").click()
    browser.find_element(By.ID, f"expiration-{expiration.replace(' ', '-')}").click()
    if custom_date is not None:
        # A date input takes the keys of the browser's locale (en-US: month, day, year).
        browser.find_element(By.ID, "custom-date").send_keys(custom_date.strftime("%m%d%Y"))
    shot(f"form-{name}")
    browser.find_element(By.ID, "create-token").click()


try:
    check("alice signs in", sign_in("alice"))
    offered = [e.get_attribute("value") for e in browser.find_elements(By.NAME, "scopes")]
    check("the form offers exactly the scopes alice's role grants",
          offered == ["notes:read", "notes:write", "profile:read", "tokens:delegate", "tokens:manage"],
          offered)
    labels = [e.get_attribute("value") for e in browser.find_elements(By.NAME, "expiration")]
    check("the expiration offers 7, 30, 60, 90 days, a custom date and none",
          labels == ["7 days", "30 days", "60 days", "90 days", "custom", "never"], labels)
    shot("alice-has-no-tokens")

    create_token("laptop", ["notes:read", "profile:read"], "30 days")
    secret = browser.find_element(By.ID, "new-token").text
    shot("secret-shown-once")
    check("the secret is shown once, as a pg_pat token", secret.startswith("pat_") and len(secret) == 40, secret)
    browser.find_element(By.ID, "back").click()
    check("the secret is not on the settings page", secret not in browser.page_source)
    row = token_rows().get("laptop")
    check("the new token is listed with its scopes and status",
          row is not None and row.find_element(By.CLASS_NAME, "status").text == "active"
          and scopes_of(row) == ["notes:read", "profile:read"])
    expires = row.find_element(By.CLASS_NAME, "expires").text if row is not None else ""
    in_30_days = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    check("it expires in 30 days", expires.startswith(in_30_days), expires)
    shot("token-listed")

    status, _, body = api("GET", secret)
    check("the API answers a call with the token (GET, notes:read)", status == 200, status)
    status, challenge, _ = api("POST", secret, {"body": "from the laptop"})
    check("a call needing a scope the token lacks gets 403 (POST, notes:write)",
          status == 403 and 'error="insufficient_scope"' in (challenge or ""), (status, challenge))

    token_rows()["laptop"].find_element(By.CLASS_NAME, "edit").click()
    browser.find_element(By.ID, "scope-notes:write").click()
    browser.find_element(By.ID, "token-name").clear()
    browser.find_element(By.ID, "token-name").send_keys("laptop (writes)")
    shot("editing-scopes")
    browser.find_element(By.ID, "save-token").click()
    row = token_rows().get("laptop (writes)")
    check("the edit shows: new name, notes:write added",
          row is not None and scopes_of(row) == ["notes:read", "notes:write", "profile:read"])
    status, _, body = api("POST", secret, {"body": "from the laptop"})
    check("after the edit the same token may write (201)", status == 201, status)
    status, _, body = api("GET", secret)
    check("and reads its note back", status == 200 and [n["body"] for n in body["notes"]] == ["from the laptop"], body)

    def edit_limits(name, networks, notebooks):
        token_rows()[name].find_element(By.CLASS_NAME, "edit").click()
        for field, value in (("token-networks", networks), ("token-notebooks", notebooks)):
            browser.find_element(By.ID, field).clear()
            browser.find_element(By.ID, field).send_keys(value)
        browser.find_element(By.ID, "save-token").click()

    # Limits: the API passes the HTTP client's address (127.0.0.1 here) and the notebook.
    edit_limits("laptop (writes)", "192.0.2.0/24", "")
    row = token_rows()["laptop (writes)"]
    check("the list shows the token's network", "192.0.2.0/24" in row.text, row.text)
    status, _, _ = api("GET", secret)
    check("from outside its network the token is refused (403)", status == 403, status)
    edit_limits("laptop (writes)", "127.0.0.0/8", "work")
    shot("limits")
    row = token_rows()["laptop (writes)"]
    check("the list shows its network and notebook", "127.0.0.0/8" in row.text and "work" in row.text,
          row.text)
    status, _, _ = api("POST", secret, {"body": "to work", "notebook": "work"})
    check("bound to notebook work, it writes there (201)", status == 201, status)
    status, _, _ = api("POST", secret, {"body": "to the inbox", "notebook": "inbox"})
    check("and nowhere else (403)", status == 403, status)

    def wait_for_button(name, button):
        """Until the page shows the token's row with that button (the form's answer loaded)."""
        for _ in range(100):
            try:
                row = token_rows().get(name)
                if row is not None and row.find_elements(By.CLASS_NAME, button):
                    return row
            except StaleElementReferenceException:
                pass  # the page was replaced while being read
            time.sleep(0.05)
        return token_rows().get(name)

    # Suspension: refused at once, the same token works again once resumed.
    token_rows()["laptop (writes)"].find_element(By.CLASS_NAME, "suspend").click()
    row = wait_for_button("laptop (writes)", "resume")
    check("a suspended token shows as suspended", "suspended" in row.find_element(By.CLASS_NAME, "status").text,
          row.text)
    shot("suspended")
    status, _, _ = api("GET", secret)
    check("a suspended token is refused (401)", status == 401, status)
    token_rows()["laptop (writes)"].find_element(By.CLASS_NAME, "resume").click()
    wait_for_button("laptop (writes)", "suspend")
    status, _, _ = api("GET", secret)
    check("resumed, it reads again (200)", status == 200, status)

    soon = datetime.date.today() + datetime.timedelta(days=3)
    create_token("expiring", ["notes:read"], "custom", soon)
    expiring_secret = browser.find_element(By.ID, "new-token").text
    browser.find_element(By.ID, "back").click()
    row = token_rows().get("expiring")
    check("a token expiring in 3 days is highlighted",
          row is not None and "expiring" in row.get_attribute("class").split(), row and row.get_attribute("class"))
    shot("expiring-highlighted")

    token_rows()["laptop (writes)"].find_element(By.CLASS_NAME, "delete").click()
    shot("delete-confirmation")
    browser.find_element(By.ID, "confirm-delete").click()
    check("the deleted token is gone from the list", "laptop (writes)" not in token_rows())
    shot("token-deleted")
    status, challenge, _ = api("GET", secret)
    check("the next call with it gets 401 with a Bearer challenge",
          status == 401 and (challenge or "").startswith("Bearer"), (status, challenge))

    # An agent's token mints a child for its sub-agent; the child dies with it.
    create_token("agent", ["notes:read", "notes:write", "tokens:delegate"], "30 days")
    agent_secret = browser.find_element(By.ID, "new-token").text
    browser.find_element(By.ID, "back").click()
    status, challenge, _ = delegate(expiring_secret, "not from a reader", ["notes:read"])
    check("a token without tokens:delegate may not mint one (403)",
          status == 403 and 'scope="tokens:delegate"' in (challenge or ""), (status, challenge))
    status, _, body = delegate(agent_secret, "greedy", ["notes:read", "profile:read"], "1 hour")
    check("the agent may not give a child a scope it lacks (403)", status == 403, (status, body))
    status, _, body = delegate(agent_secret, "sub-agent", ["notes:read"], "1 hour")
    child_secret = body.get("token", "")
    check("the agent's token mints a child over the API, its secret returned once (201)",
          status == 201 and child_secret.startswith("pat_") and len(child_secret) == 40
          and body.get("scopes") == ["notes:read"], (status, body))
    browser.get(f"{BASE}/settings/tokens")
    rows = token_rows()
    agent, child = rows.get("agent"), rows.get("sub-agent")
    agent_id = agent.get_attribute("data-token-id") if agent is not None else None
    check("the child is listed under its parent: minted by the agent, created by its token",
          child is not None and child.get_attribute("data-parent-id") == agent_id
          and child.get_attribute("data-depth") == "1"
          and "minted by “agent”" in child.find_element(By.CLASS_NAME, "name").text
          and child.find_element(By.CLASS_NAME, "created-by").text == "token “agent”"
          and list(rows).index("sub-agent") == list(rows).index("agent") + 1,
          child is not None and (child.get_attribute("data-parent-id"), agent_id, child.text, list(rows)))
    check("a token made on this page is created by alice, with no parent",
          agent is not None and agent.get_attribute("data-parent-id") == ""
          and agent.find_element(By.CLASS_NAME, "created-by").text == "alice",
          agent is not None and agent.text)
    check("the secret of neither is on the settings page",
          agent_secret not in browser.page_source and child_secret not in browser.page_source)
    shot("delegation-chain")
    status, _, body = api("GET", child_secret)
    check("the child reads notes over the API (200)", status == 200, (status, body))
    status, _, _ = api("POST", child_secret, {"body": "from the sub-agent"})
    check("the child holds only the scope it was given (POST, 403)", status == 403, status)
    status, _, _ = delegate(child_secret, "grandchild", ["notes:read"])
    check("the child, without tokens:delegate, mints nothing (403)", status == 403, status)

    token_rows()["agent"].find_element(By.CLASS_NAME, "delete").click()
    minted = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#minted li")]
    check("deleting the agent warns that the sub-agent's token goes with it", minted == ["sub-agent"], minted)
    shot("delete-parent-confirmation")
    browser.find_element(By.ID, "confirm-delete").click()
    rows = token_rows()
    check("parent and child are gone from the list", "agent" not in rows and "sub-agent" not in rows,
          list(rows))
    status, challenge, _ = api("GET", child_secret)
    check("the child is refused once its parent is deleted (401)",
          status == 401 and 'error="invalid_token"' in (challenge or ""), (status, challenge))
    status, _, _ = api("GET", agent_secret)
    check("and so is the parent (401)", status == 401, status)
    browser.find_element(By.ID, "logout").click()

    check("bob signs in", sign_in("bob"))
    rows = token_rows()
    check("bob sees none of alice's tokens", rows == {}, list(rows))
    offered = [e.get_attribute("value") for e in browser.find_elements(By.NAME, "scopes")]
    check("bob is offered only what his role grants", offered == ["notes:read", "profile:read"], offered)
    create_token("bob cli", ["notes:read"], "7 days")
    bob_secret = browser.find_element(By.ID, "new-token").text
    status, _, body = api("GET", bob_secret)
    check("bob's token reads none of alice's notes", status == 200 and body["notes"] == [], body)
    status, _, _ = api("POST", bob_secret, {"body": "bob"})
    check("bob's token may not write (403)", status == 403, status)
    browser.get(f"{BASE}/settings/tokens")
    shot("bob-tokens")
finally:
    browser.quit()

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
