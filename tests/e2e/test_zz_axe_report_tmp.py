import pytest
from .helpers import wait_connected
from playwright.sync_api import expect
from axe_playwright_python.sync_playwright import Axe

@pytest.mark.parametrize("path", ["/users", "/legacy-dashboard"])
def test_report(page, path):
    page.goto(path); wait_connected(page)
    expect(page.get_by_text("Seats used")).to_be_visible()
    r = Axe().run(page, options={}).response
    print("\n=====", path, "violations", [(v["id"], v["impact"]) for v in r["violations"]])
    print("incomplete", [(v["id"], v["impact"], len(v["nodes"])) for v in r["incomplete"]])
    for v in r["incomplete"]:
        for n in v["nodes"][:2]:
            print("   ", v["id"], n["html"][:200], [c["message"] for c in n["any"]][:1])
    print("passes", len(r["passes"]))
    print(page.locator("table").first.evaluate("e => e.outerHTML.slice(0,200)"))
    print(page.evaluate("() => document.documentElement.lang"))
