"""The phone page's files themselves (no browser needed, so these run everywhere): nothing the page's
Content-Security-Policy would refuse, nothing fetched from elsewhere, every file the service worker keeps
exists, and every string is there in both languages."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from fengqiao.server.field import PERSON_ACTIONS

PHONE = Path(str(resources.files("fengqiao.server").joinpath("phone")))


def text(name: str) -> str:
    return (PHONE / name).read_text(encoding="utf-8")


def test_no_inline_script_or_style_and_nothing_from_elsewhere() -> None:
    html = text("index.html")
    assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html))  # no inline script
    assert re.findall(r"<script[^>]*>(.*?)</script>", html, re.S) == [""]
    assert "<style" not in html and " style=" not in html and "onclick=" not in html
    for name in ("index.html", "app.js", "app.css", "sw.js", "manifest.webmanifest", "icon.svg"):
        body = text(name).replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"https?://", body), name  # no CDN, no external font or image
    js = text("app.js")
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "eval(" not in js
    assert ".style." not in js and "setAttribute('style'" not in js


def test_the_service_worker_keeps_files_that_exist() -> None:
    shell = re.search(r"const SHELL = \[(.*?)\];", text("sw.js"), re.S)
    assert shell is not None
    paths = re.findall(r"'(/m/[^']*)'", shell.group(1))
    assert "/m/" in paths and "/m/app.js" in paths
    for p in paths:
        name = p.removeprefix("/m/") or "index.html"
        assert (PHONE / name).is_file(), p


def test_every_string_is_in_both_languages() -> None:
    js = text("app.js")
    zh = js[js.index("    zh: {") : js.index("    en: {")]
    en = js[js.index("    en: {") : js.index("  function pickLang")]
    keys = lambda block: {a or b for a, b in re.findall(r"(?:'([\w.]+)'|\b([a-z]\w*)):\s*'", block)}  # noqa: E731
    assert len(keys(zh)) > 150 and keys(zh) == keys(en)
    used = {k for k in re.findall(r"\bt\('([\w.]+)'", js) if not k.endswith(".")}  # 'act.' + x: built
    assert used <= keys(zh), used - keys(zh)
    built = {f"{p}.{a}" for p in ("act", "sent") for a in PERSON_ACTIONS}  # every action the server takes
    built |= {f"a.{s}" for s in ("dispatched", "signed", "arrived", "fed_back", "returned")}
    built |= {"fb.resolved", "fb.unresolved", "due.sign", "due.arrive", "due.feedback", "o.cancel", "o.close"}
    assert built <= keys(zh), built - keys(zh)
