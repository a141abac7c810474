"""English and Hindi (UI.md, README "Languages"): the catalogue is complete and compiled, the
language comes from the switcher's cookie or Accept-Language, pages and error details follow
it, and codes never change."""

import gettext
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from accounts.tests.factories import ClientFactory, ConsultantUserFactory
from config.errors import _code_messages
from wallets.tests.factories import fund

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "hi" / "LC_MESSAGES"
DEVANAGARI = re.compile("[\u0900-\u097f]")

# --- The catalogue ------------------------------------------------------------------------------

SKIPPED_WHEN_COPYING = shutil.ignore_patterns(
    ".venv", ".git", ".tools", ".metrics", "docs", "deploy", "node_modules", "*.sqlite3", "media"
)


def _gettext_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} (GNU gettext) is needed: apt-get install gettext (.ci/run does)")
    return path


def test_makemessages_finds_no_string_left_untranslated(tmp_path):
    """Strict: a string marked for translation anywhere in the code or the templates (every
    page of UI.md) without its Hindi translation fails here. `makemessages -l hi` is run on a
    copy of the project, so this test never changes the working tree."""
    msgattrib = _gettext_tool("msgattrib")
    _gettext_tool("xgettext")
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=SKIPPED_WHEN_COPYING, symlinks=True)
    subprocess.run(  # noqa: S603 - our interpreter, Django's command
        [sys.executable, "manage.py", "makemessages", "-l", "hi", "--no-obsolete"]
        + ["--ignore=.venv", "--ignore=bench", "--ignore=locale"],
        cwd=copy,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "1", "HOME": str(tmp_path)},
        check=True,
        capture_output=True,
    )
    po = copy / "locale" / "hi" / "LC_MESSAGES" / "django.po"
    untranslated = subprocess.run(  # noqa: S603
        [msgattrib, "--untranslated", "--no-wrap", str(po)], capture_output=True, text=True
    ).stdout
    fuzzy = subprocess.run(  # noqa: S603
        [msgattrib, "--only-fuzzy", "--no-wrap", str(po)], capture_output=True, text=True
    ).stdout
    missing = re.findall(r'^msgid "(.+)"$', untranslated, re.M)
    assert missing == [], "strings with no Hindi translation (locale/hi, README Languages)"
    assert re.findall(r'^msgid "(.+)"$', fuzzy, re.M) == [], "fuzzy entries need a translator"


def test_the_compiled_catalogue_matches_its_source(tmp_path):
    msgfmt = _gettext_tool("msgfmt")
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "-o", str(fresh), str(CATALOGUE / "django.po")], check=True)  # noqa: S603
    with open(fresh, "rb") as new, open(CATALOGUE / "django.mo", "rb") as committed:
        expected = gettext.GNUTranslations(new)._catalog  # type: ignore[attr-defined]
        actual = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
    assert actual == expected, "run: .venv/bin/python manage.py compilemessages -l hi"


def test_every_error_code_has_its_message_in_hindi():
    """Each code's own message (an ApiError's default_detail, or the handler's) is in the
    catalogue: an app that adds a code must translate its message."""
    import config.urls  # noqa: F401 - every app's errors imported

    messages = _code_messages()
    assert len(messages) > 20
    with translation.override("hi"):
        missing = {code: str(m) for code, m in messages.items() if not DEVANAGARI.search(str(m))}
    assert missing == {}


# --- Which language ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_accept_language_picks_hindi(client):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="hi-IN,hi;q=0.9,en;q=0.5").content.decode()
    assert '<html lang="hi">' in html
    assert "अभी किसी सत्यापित विशेषज्ञ से बात करें" in html
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()
    assert '<html lang="en">' in english and "Talk to a verified expert" in english


@pytest.mark.django_db
def test_the_switcher_remembers_the_choice_over_the_browsers(client):
    answer = client.post("/i18n/setlang/", {"language": "hi", "next": "/consultants/"})
    assert answer.status_code == 302 and answer["Location"] == "/consultants/"
    cookie = answer.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "hi" and int(cookie["max-age"]) >= 300 * 24 * 3600
    html = client.get("/consultants/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="hi">' in html and "विशेषज्ञ खोजें" in html
    # and back
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert '<html lang="en">' in client.get("/", HTTP_ACCEPT_LANGUAGE="hi").content.decode()


@pytest.mark.django_db
def test_every_page_offers_the_switcher_to_the_other_language(client):
    english = client.get("/login/").content.decode()
    assert 'action="/i18n/setlang/"' in english and 'value="hi"' in english and "हिन्दी" in english
    hindi = client.get("/login/", HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert 'value="en"' in hindi and ">English<" in hindi.replace("</svg>", ">")


# --- Errors: details translated, codes never -----------------------------------------------------


@pytest.mark.django_db
def test_api_errors_answer_in_hindi_with_the_same_codes(api):
    hi = {"HTTP_ACCEPT_LANGUAGE": "hi"}
    unauthenticated = api.get("/api/v1/auth/me", **hi).json()
    assert unauthenticated["code"] == "not_authenticated"
    assert DEVANAGARI.search(unauthenticated["detail"])
    invalid = api.post(
        "/api/v1/auth/register", {"email": "nope", "role": "client"}, format="json", **hi
    ).json()
    assert invalid["code"] == "invalid"
    assert DEVANAGARI.search(invalid["detail"])
    for messages in invalid["fields"].values():
        assert all(DEVANAGARI.search(message) for message in messages), invalid["fields"]
    not_found = api.get("/api/v1/consultants/00000000-0000-0000-0000-000000000000", **hi).json()
    assert not_found["code"] == "not_found" and DEVANAGARI.search(not_found["detail"])
    english = api.get("/api/v1/auth/me").json()
    assert english == {
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }


@pytest.mark.django_db
def test_a_message_made_at_run_time_falls_back_to_its_codes_message(api):
    from accounts.tests.factories import sign_in

    client_user = ClientFactory()
    sign_in(api, client_user)
    # 402 insufficient_balance carries figures in English; in Hindi it is the code's message
    from consultants.tests.factories import OnlineConsultantFactory

    consultant = OnlineConsultantFactory()
    answer = api.post(
        "/api/v1/consultations",
        {"consultant_id": str(consultant.id), "channel": "chat"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="hi",
    )
    assert answer.status_code == 402
    assert answer.json()["code"] == "insufficient_balance"
    assert DEVANAGARI.search(answer.json()["detail"])


# --- Pages in Hindi: no English left in what a person reads -------------------------------------


class _VisibleText(HTMLParser):
    """The text a person reads: element text, titles, labels in attributes; no scripts, and
    nothing inside an element that declares another language (the switcher's `lang="en"`)."""

    HIDDEN = {"script", "style", "svg", "template"}
    VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        foreign = bool(values.get("lang")) and not values["lang"].startswith("hi")
        if not self.skip and not foreign:
            for name in ("title", "aria-label", "placeholder", "alt"):
                if values.get(name):
                    self.parts.append(values[name])
        if tag in self.VOID:
            return
        hides = foreign or tag in self.HIDDEN
        self.skip += hides
        self.stack.append((tag, hides))

    def handle_endtag(self, tag):
        while self.stack:
            opened, hides = self.stack.pop()
            self.skip -= hides
            if opened == tag:
                break

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


# Words that stay as they are in Hindi: the brand, names of things, units, formats.
KEPT = {
    "Consult",
    "English",
    "UPI",
    "PDF",
    "PNG",
    "JPEG",
    "MB",
    "KB",
    "Razorpay",
    "Checkout",
    "Google",
    "Authenticator",
    "Authy",
    "1Password",
    "QR",
    "OTP",
    "HH",
    "MM",
    "UTC",
    "Asia",
    "Kolkata",
    "IST",
    "Idempotency",
    "Key",
    "JSON",
    "min",
}


def _english_left(html: str, data_words: set[str]) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    left = []
    for part in parser.parts:
        for word in re.findall(r"[A-Za-z][A-Za-z'’]+", part):
            if word not in KEPT and word not in data_words:
                left.append(f"{word!r} in {part[:80]!r}")
    return left


@pytest.mark.django_db
def test_the_pages_read_in_hindi(client):
    person = ClientFactory(name="Asha Rao", email="asha@example.com")
    fund(person, 50_000)
    consultant = ConsultantUserFactory(name="Vikram Singh", email="vikram@example.com")
    data_words = {"Asha", "Rao", "asha", "example", "com", "Vikram", "Singh", "vikram"}
    pages = {None: ["/", "/consultants/", "/login/", "/signup/"]}
    pages[person] = ["/wallet/", "/account/", "/consultations/"]
    pages[consultant] = ["/dashboard/", "/dashboard/profile/", "/earnings/", "/account/"]
    problems = {}
    for user, paths in pages.items():
        client.logout()  # (which forgets the cookies)
        if user is not None:
            client.force_login(user, backend="accounts.backends.AccountBackend")
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "hi"
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            left = _english_left(response.content.decode(), data_words)
            if left:
                problems[path] = left[:8]
    assert problems == {}, "\n".join(f"{path}: {left}" for path, left in problems.items())
