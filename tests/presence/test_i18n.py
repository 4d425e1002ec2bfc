"""Languages: English by default, German from the agent's profile or from the browser
(Accept-Language), and a German catalogue with every message translated and compiled."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings

from presence.services import agent_profile_save

pytestmark = pytest.mark.django_db

PO = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

GERMAN = ["Meine Tickets (0)", "Meine Warteschlangen", "Status ändern", "abmelden", "Die Warteschlange ist leer."]
ENGLISH = ["My tickets (0)", "My queues", "Change status", "Sign out", "The queue is empty."]


def _panel(client, agent, **headers):
    client.force_login(agent)
    response = client.get("/", headers=headers)
    assert response.status_code == 200
    return response, response.content.decode()


def test_agent_who_chose_german_gets_the_panel_in_german(client, make_agent):
    ann = make_agent("ann", language="de")

    response, html = _panel(client, ann, accept_language="en")

    assert '<html lang="de">' in html
    assert all(text in html for text in GERMAN), html
    assert "My tickets" not in html
    assert response["Content-Language"] == "de"


def test_browser_language_decides_for_an_agent_without_a_choice(client, make_agent):
    ann = make_agent("ann")

    response, html = _panel(client, ann, accept_language="de-DE,de;q=0.9,en;q=0.5")

    assert all(text in html for text in GERMAN)
    assert response["Content-Language"] == "de"


def test_english_is_the_default(client, make_agent):
    ann = make_agent("ann")

    response, html = _panel(client, ann)

    assert '<html lang="en' in html
    assert all(text in html for text in ENGLISH)
    assert "Meine Tickets" not in html


def test_the_profile_choice_beats_the_browser(client, make_agent):
    ann = make_agent("ann", language="en")

    _, html = _panel(client, ann, accept_language="de")

    assert all(text in html for text in ENGLISH)


def test_a_changed_profile_language_applies_on_the_next_page(client, make_agent, django_capture_on_commit_callbacks):
    ann = make_agent("ann", language="de")
    assert "Meine Tickets" in _panel(client, ann)[1]  # the choice is now cached

    profile = ann.agent_profile
    profile.language = ""
    with django_capture_on_commit_callbacks(execute=True):  # the cached choice goes on commit
        agent_profile_save(profile, actor=ann)

    assert "My tickets" in _panel(client, ann)[1]


def test_messages_from_python_follow_the_language(client, make_agent, statuses):
    ann = make_agent("ann", language="de")
    client.force_login(ann)

    response = client.post("/status/", {"status": statuses["busy"].pk, "next": "/"}, follow=True)

    assert f"Ihr Status ist jetzt {statuses['busy'].name}." in response.content.decode()


def test_the_header_script_gets_its_note_in_german(client, make_agent, statuses):
    statuses["training"].requires_approval = True
    statuses["training"].save()
    ann = make_agent("ann", language="de")
    client.force_login(ann)

    reply = client.post("/status/", {"status": statuses["training"].pk}, headers={"accept": "application/json"})
    state = client.get("/status/state/").json()

    assert reply.json()["message"] == "Ihr Wechsel zu „Training“ wartet auf die Freigabe durch einen Supervisor."
    assert state["note"] == "Wartet auf Freigabe: Training"


def test_the_board_speaks_german(client, supervisor, make_agent):
    make_agent("ann")
    client.force_login(supervisor)

    html = client.get("/board/", headers={"accept_language": "de"}).content.decode()

    assert "Supervisor-Übersicht" in html and "Verfügbarkeit" in html and "Alle Agenten" in html


def test_login_page_in_german(client):
    html = client.get("/accounts/login/", headers={"accept_language": "de"}).content.decode()

    assert "<h1>Anmelden</h1>" in html


# --- the catalogue ---------------------------------------------------------------------------------


def _po_entries(text: str) -> list[dict]:
    """A small PO reader: one dict per entry with its flags, msgctxt, msgid, msgid_plural and
    msgstr (for a plural entry, its forms msgstr[0], msgstr[1], ... as a list)."""
    entries = []
    for block in text.strip().split("\n\n"):
        entry = {"flags": set(), "msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": None, "forms": {}}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])? (".*")$', line):
                key, index = match.group(1), match.group(2)
                if index is not None:
                    key = int(index)
                    entry["forms"][key] = ast.literal_eval(match.group(3))
                else:
                    entry[key] = ast.literal_eval(match.group(3))
            elif line.startswith('"') and key is not None:
                if isinstance(key, int):
                    entry["forms"][key] += ast.literal_eval(line)
                else:
                    entry[key] += ast.literal_eval(line)
        if entry["msgid_plural"] is not None:
            entry["msgstr"] = [entry["forms"][n] for n in sorted(entry["forms"])]
        entries.append(entry)
    return entries


def _untranslated(entry: dict) -> bool:
    forms = entry["msgstr"] if isinstance(entry["msgstr"], list) else [entry["msgstr"]]
    return not forms or not all(forms)


def test_every_german_message_is_translated_and_none_is_fuzzy():
    entries = _po_entries(PO.read_text(encoding="utf-8"))
    messages = [entry for entry in entries if entry["msgid"]]

    assert len(messages) > 100
    assert [e["msgid"] for e in messages if _untranslated(e)] == []
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"]] == []


def test_the_compiled_catalogue_matches_the_po_file():
    """django.mo is checked in: it must say what django.po says (run compilemessages)."""
    with MO.open("rb") as fp:
        compiled = gettext.GNUTranslations(fp)
    for entry in _po_entries(PO.read_text(encoding="utf-8")):
        if not entry["msgid"]:
            continue
        if entry["msgid_plural"] is not None:
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1) == entry["msgstr"][0]
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 2) == entry["msgstr"][1]
        elif entry["msgctxt"]:
            assert compiled.pgettext(entry["msgctxt"], entry["msgid"]) == entry["msgstr"]
        else:
            assert compiled.gettext(entry["msgid"]) == entry["msgstr"]
