"""Every page of the console, for every role: what staff need of any page, checked on all of them.

Each role signs in and follows the links of the pages it reaches (breadth-first from where it
lands, one page per address pattern: one member, one rule form), leaving downloads and other
origins alone. On each page: every field has a visible label, the page has a title and one
`<h1>`, every table has header cells, nothing is clickable that the keyboard cannot reach, and
the Tab key walks from the skip link through every link, button and field in order, each one
visibly focused. The `page` fixture fails the test on any error in the browser console.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import sign_in
from tests.console.test_campaigns import accept_dialogs, launch_now, new_draft

MAX_PAGES = 60  # a bound on the crawl; the console has about 30 kinds of page
MAX_TABS = 80  # a bound on the Tab presses per page; longer pages are checked this far
SEGMENTS = 6  # the parts of a date, time or date-and-time field that Tab visits one by one
DOWNLOADS = (".csv", ".json")

# What a page shows staff, read in the page: problems as sentences, [] when all is well.
PAGE_PROBLEMS = """() => {
  const problems = [];
  const shown = (el) => el.checkVisibility({ visibilityProperty: true });
  const name = (el) => {
    const bits = [el.tagName.toLowerCase()];
    for (const attr of ["id", "name", "type", "href", "hx-get", "hx-post"]) {
      if (el.hasAttribute(attr)) bits.push(`${attr}=${el.getAttribute(attr)}`);
    }
    const text = (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 30);
    return `<${bits.join(" ")}>${text ? " " + JSON.stringify(text) : ""}`;
  };
  if (!document.title.trim()) problems.push("the page has no <title>");
  const headings = document.querySelectorAll("h1").length;
  if (headings !== 1) problems.push(`the page has ${headings} <h1> elements, not one`);
  const unlabelled = "input:not([type=hidden]):not([type=submit]):not([type=button])"
    + ":not([type=reset]):not([type=image]), select, textarea";
  for (const el of document.querySelectorAll(unlabelled)) {
    if (!shown(el)) continue;
    const labels = [...el.labels].filter((label) => shown(label) && label.textContent.trim());
    if (!labels.length) problems.push(`no visible <label> for ${name(el)}`);
  }
  for (const table of document.querySelectorAll("table")) {
    if (!table.querySelector("th")) problems.push(`a table without <th>: ${name(table)}`);
  }
  // htmx fires on a click unless told otherwise (forms on submit, fields on change)
  const acting = "[onclick], [hx-get], [hx-post], [hx-put], [hx-patch], [hx-delete]";
  for (const el of document.querySelectorAll(acting)) {
    if (el.matches("a[href], button, input, select, textarea, form, summary")) continue;
    const trigger = el.getAttribute("hx-trigger") || "click";
    if (!el.hasAttribute("onclick") && !/click|key/.test(trigger)) continue;
    if (el.hasAttribute("tabindex") && el.hasAttribute("role")) continue;
    problems.push(`clickable but neither link nor button: ${name(el)}`);
  }
  for (const el of document.querySelectorAll("[tabindex]")) {
    if (el.tabIndex > 0) problems.push(`a positive tabindex reorders the keyboard: ${name(el)}`);
  }
  return problems;
}"""

# The elements the Tab key should visit, in document order; kept on the window to compare.
TAB_STOPS = """() => {
  const selector = "a[href], button, input, select, textarea, summary, iframe, [tabindex],"
    + " [contenteditable=''], [contenteditable=true], audio[controls], video[controls]";
  const radios = new Set();
  const stops = [...document.querySelectorAll(selector)].filter((el) => {
    if (el.tabIndex < 0 || el.disabled || el.closest("[inert]")) return false;
    if (el.matches("input[type=hidden]")) return false;
    if (el.matches("summary") && el.parentElement.querySelector("summary") !== el) return false;
    if (!el.checkVisibility({ visibilityProperty: true })) return false;
    if (el.matches("input[type=radio]")) {
      // a radio group is one stop: its checked radio, else its first
      const group = el.form ? el.form.elements.namedItem(el.name) : null;
      const members = group && group.length !== undefined ? [...group] : [el];
      const stop = members.find((radio) => radio.checked) || members[0];
      if (radios.has(el.name) || stop !== el) return false;
      radios.add(el.name);
    }
    return true;
  });
  window.__tabStops = stops;
  return stops.length;
}"""

# Back to the top of the page, as if it had just opened with nothing focused (some pages focus
# their first field on purpose: the till's code field, for the scanner).
FROM_THE_TOP = """() => {
  const body = document.body;
  body.tabIndex = -1;
  body.focus();
  body.removeAttribute("tabindex");
  return document.activeElement === body;
}"""

# Where the focus is now: its place among the stops, what it is, whether it shows.
FOCUS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const outlined = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadowed = style.boxShadow !== "none";
  const text = (el.textContent || el.getAttribute("name") || "").trim().replace(/\\s+/g, " ");
  const inNavigation = !!el.closest("nav") || !!el.closest("header");
  return {
    index: window.__tabStops.indexOf(el),
    segmented: el.matches("input[type=date], input[type=time], input[type=datetime-local],"
      + " input[type=month], input[type=week]"),
    what: `<${el.tagName.toLowerCase()}> ${JSON.stringify(text.slice(0, 30))}`,
    visible: outlined || shadowed,
    skipLink: el.matches("a[href^='#']"),
    inNavigation,
  };
}"""


@dataclass
class Crawl:
    """What one role reached: the address pattern of each page, with its problems."""

    pages: dict[str, list[str]] = field(default_factory=dict)

    @property
    def problems(self) -> dict[str, list[str]]:
        return {pattern: found for pattern, found in self.pages.items() if found}


def pattern_of(path: str) -> str:
    """One address per kind of page: ids in the path become `{id}`."""
    return re.sub(r"/\d+(?=/|$)", "/{id}", path)


def followable(href: str, origin: str) -> str | None:
    """The address to visit for a link, or None for what the crawl leaves alone."""
    url, _ = urldefrag(href)
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != origin or not parts.path.startswith("/console/"):
        return None
    if parts.path.startswith("/console/static/") or parts.path.endswith(DOWNLOADS):
        return None
    return url


def keyboard_problems(page: Page) -> list[str]:
    """Tab from the top of the page: skip link or navigation first, then every stop in order."""
    stops = page.evaluate(TAB_STOPS)
    if stops == 0:
        return ["the keyboard has nothing to reach on the page"]
    assert page.evaluate(FROM_THE_TOP)
    problems: list[str] = []
    focus: dict[str, Any] = {"index": -1}
    for press in range(min(stops, MAX_TABS)):
        page.keyboard.press("Tab")
        # a date or time field takes one Tab per part (year, month, day) before the next stop
        for _ in range(SEGMENTS):
            if not (focus.get("segmented") and page.evaluate(FOCUS)["index"] == focus["index"]):
                break
            page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if press == 0 and not (focus["skipLink"] or focus["inNavigation"]):
            problems.append(f"the first Tab lands on {focus['what']}, not the skip link or menu")
        if focus["index"] != press:
            problems.append(
                f"Tab {press + 1} lands on {focus['what']} (stop {focus['index']}),"
                f" not stop {press} of {stops}"
            )
            break
        if not focus["visible"]:
            problems.append(f"focus is not visible on {focus['what']}")
    return problems


def crawl(page: Page, origin: str) -> Crawl:
    """Visit every console page reachable by links from where the signed-in role lands."""
    found = Crawl()
    queue = deque([page.url])
    queued = {pattern_of(urlsplit(page.url).path)}
    while queue and len(found.pages) < MAX_PAGES:
        url = queue.popleft()
        response = page.goto(url)
        page.wait_for_load_state("networkidle")
        pattern = pattern_of(urlsplit(page.url).path)
        if pattern in found.pages:  # an address that sent the browser on to a page seen
            continue
        problems = found.pages.setdefault(pattern, [])
        if response is None or response.status != 200:
            problems.append(f"{url} answered {response.status if response else 'nothing'}")
            continue
        problems += page.evaluate(PAGE_PROBLEMS)
        problems += keyboard_problems(page)
        for href in page.eval_on_selector_all("a[href]:not([download])", "a => a.map(e => e.href)"):
            target = followable(href, origin)
            if target is None or pattern_of(urlsplit(target).path) in queued:
                continue
            queued.add(pattern_of(urlsplit(target).path))
            queue.append(target)
    return found


def crawl_as(page: Page, console_url: str, role: str) -> Crawl:
    sign_in(page, role)
    return crawl(page, console_url)


class TestEveryPage:
    def test_every_page_the_owner_reaches(self, page: Page, console_url: str) -> None:
        sign_in(page, "owner")
        new_draft(page, "巡检活动")  # the newest campaign: a draft, with its form's message keys
        page.goto("/console/")
        found = crawl(page, console_url)
        assert len(found.pages) >= 20, sorted(found.pages)
        assert {
            "/console/dashboard",
            "/console/members/{id}",
            "/console/setup/tiers/{id}",
            "/console/reminders/{id}/preview",
            "/console/reminders/deliveries",
            "/console/campaigns",
            "/console/campaigns/new",
            "/console/campaigns/{id}",
            "/console/campaigns/{id}/edit",
            "/console/audit",
            "/console/staff",
            "/console/till",
            "/console/account",
        } <= found.pages.keys()
        assert found.problems == {}

    def test_every_page_an_operator_reaches(self, page: Page, console_url: str) -> None:
        found = crawl_as(page, console_url, "operator")
        assert len(found.pages) >= 15, sorted(found.pages)
        assert {
            "/console/members/{id}",
            "/console/reminders/{id}/edit",
            "/console/campaigns",
            "/console/campaigns/{id}",
        } <= found.pages.keys()
        assert not {"/console/audit", "/console/staff"} & found.pages.keys()
        assert found.problems == {}

    def test_every_page_a_cashier_reaches(self, page: Page, console_url: str) -> None:
        found = crawl_as(page, console_url, "cashier")
        assert {"/console/till", "/console/account"} <= found.pages.keys()
        assert all(p.startswith(("/console/till", "/console/account")) for p in found.pages)
        assert found.problems == {}


class TestCampaignPagesInEveryState:
    """A campaign's page shows other parts in each state (the preview and launch form of a
    draft, the controls, the results and members of a started one); the crawl sees one."""

    def test_each_state_of_a_campaign_page(self, page: Page) -> None:
        sign_in(page, "operator")
        problems: dict[str, list[str]] = {}

        def check(state: str) -> None:
            page.wait_for_load_state("networkidle")
            found = page.evaluate(PAGE_PROBLEMS) + keyboard_problems(page)
            if found:
                problems[state] = found

        new_draft(page, "状态巡检")
        check("draft")
        page.get_by_role("link", name="编辑草稿").click()
        check("draft form")
        page.go_back()
        launch_now(page)
        deadline = time.monotonic() + 90
        while "已结束" not in page.get_by_role("region", name="活动内容").inner_text():
            assert time.monotonic() < deadline, "the campaign did not finish"
            time.sleep(3)
            page.reload()
        check("finished")

        new_draft(page, "暂停巡检", message=False)
        accept_dialogs(page)
        page.get_by_label("定时开始").check()
        page.get_by_label("开始于（品牌所在时区）").fill("2099-01-01T10:00")
        page.get_by_role("button", name="发布活动").click()
        expect(page.get_by_role("status")).to_have_text("活动已发布。")
        check("scheduled")
        page.get_by_role("button", name="暂停").click()
        expect(page.get_by_role("status")).to_have_text("活动已暂停。")
        check("paused")
        page.get_by_role("button", name="取消活动").click()
        expect(page.get_by_role("status")).to_have_text("活动已取消。")
        check("cancelled")
        assert problems == {}


class TestTheChecks:
    """The checks themselves, on pages made to fail them."""

    def test_a_page_shows_what_is_wrong_with_it(self, page: Page) -> None:
        page.set_content(
            """<title> </title><h1>一</h1><h1>二</h1>
            <label>名称 <input name="named"></label> <input name="nameless">
            <label for="hidden" hidden>隐藏</label><input id="hidden" name="hidden">
            <input type="hidden" name="csrf_token"> <button type="submit">保存</button>
            <table><tr><td>1</td></tr></table>
            <div hx-get="/open">打开</div> <div hx-get="/later" hx-trigger="load"></div>"""
        )
        assert page.evaluate(PAGE_PROBLEMS) == [
            "the page has no <title>",
            "the page has 2 <h1> elements, not one",
            "no visible <label> for <input name=nameless>",
            "no visible <label> for <input id=hidden name=hidden>",
            'a table without <th>: <table> "1"',
            'clickable but neither link nor button: <div hx-get=/open> "打开"',
        ]

    def test_the_keyboard_walk_finds_a_trap_and_an_invisible_focus(self, page: Page) -> None:
        page.set_content(
            """<a href="#main">跳到正文</a><main id="main">
            <button style="outline: none">无框</button>
            <label>陷阱 <input name="trap"></label> <button>之后</button></main>"""
        )
        page.get_by_label("陷阱").evaluate(
            "el => el.addEventListener('keydown', e => e.key === 'Tab' && e.preventDefault())"
        )
        assert keyboard_problems(page) == [
            'focus is not visible on <button> "无框"',
            'Tab 4 lands on <input> "trap" (stop 2), not stop 3 of 4',
        ]


@pytest.mark.parametrize(
    ("href", "followed"),
    [
        ("http://h:1/console/members/7#main", "http://h:1/console/members/7"),
        ("http://h:1/console/dashboard/members.csv?days=30", None),
        ("http://h:1/console/static/console.css", None),
        ("http://h:1/fake-wechat/_fake/sent", None),
        ("http://elsewhere/console/members", None),
    ],
)
def test_the_crawl_follows_pages_only(href: str, followed: str | None) -> None:
    assert followable(href, "http://h:1") == followed
