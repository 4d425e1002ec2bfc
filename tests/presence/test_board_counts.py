"""The supervisor board (U3): filter by team, active queues, counts by status, availability and
live chat for all agents and per team, at a constant number of queries."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from presence import selectors
from presence.models import AgentPresence, AgentProfile, TeamMembership
from presence.selectors import BOARD_PAGE_SIZE
from tests.factories import TicketFactory, UserFactory, recount_load, sync_routing
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def sup_client(client, supervisor):
    client.force_login(supervisor)
    return client


@pytest.fixture
def floor(make_team, make_agent):
    """Alpha: ann (free), bob (active). Beta: bob (left the queue), cara (lunch), eve (at capacity).
    dev is offline in no team."""
    alpha, beta = make_team("Alpha"), make_team("Beta")
    ann = make_agent("ann", teams=[alpha])
    bob = make_agent("bob", teams=[alpha, beta])
    TeamMembership.objects.filter(agent=bob, team=beta).update(active=False)
    sync_routing(bob)
    cara = make_agent("cara", teams=[beta], status="lunch")
    dev = make_agent("dev", status="offline")
    eve = make_agent("eve", teams=[beta], can_chat=False, capacity_email=1)
    TicketFactory(subject="bob's", assignee=bob)
    TicketFactory(subject="eve's", assignee=eve)
    return {"alpha": alpha, "beta": beta, "ann": ann, "bob": bob, "cara": cara, "dev": dev, "eve": eve}


def _line(counts, team=None) -> dict:
    """One line of the counts as {"agents": n, "<status slug>": n, "<availability>": n, "live_chat": n}."""
    line = next(row for row in counts.rows if row.team == team)
    return {
        "agents": line.agents,
        **{status.slug: n for status, n in zip(counts.statuses, line.by_status, strict=True) if n},
        **{availability: n for availability, n in zip(counts.availabilities, line.by_availability, strict=True) if n},
        "live_chat": line.live_chat,
    }


@pytest.mark.sqlite
def test_counts_by_status_availability_and_live_chat_for_all_and_per_team(floor):
    counts = selectors.board().counts
    assert [s.slug for s in counts.statuses] == ["available", "lunch", "offline"]  # catalogue order
    assert counts.teams == [floor["alpha"], floor["beta"]]
    assert _line(counts) == {
        "agents": 5, "available": 3, "lunch": 1, "offline": 1,
        "free": 1, "active": 1, "busy": 1, "away": 1, "live_chat": 3,
    }  # fmt: skip
    assert _line(counts, floor["alpha"]) == {"agents": 2, "available": 2, "free": 1, "active": 1, "live_chat": 2}
    # bob left Beta's queue: still a member (counted), but not online for Beta's live chat.
    assert _line(counts, floor["beta"]) == {
        "agents": 3, "available": 2, "lunch": 1, "active": 1, "away": 1, "busy": 1, "live_chat": 1,
    }  # fmt: skip


def test_live_chat_counts_agree_with_the_live_chat_api(floor, supervisor_api, statuses):
    statuses["lunch"].online_for_live_chat = True  # not eligible: still not online
    statuses["lunch"].save()
    counts = selectors.board().counts
    api = supervisor_api.get("/api/v1/live-chat/availability/").json()
    assert api["online"] == _line(counts)["live_chat"] == 3
    assert {t["name"]: t["online"] for t in api["teams"]} == {
        team.name: _line(counts, team)["live_chat"] for team in counts.teams
    }


def test_the_board_shows_the_counts_table(sup_client, floor):
    html = sup_client.get(reverse("presence:board")).content.decode()
    table = html[html.index('id="board-counts-table"') :].split("</table>")[0]
    assert "🟢 Available" in table and "All agents" in table and "Alpha" in table and "Beta" in table

    def cells(key):
        row = table[table.index(f'data-counts="{key}"') :].split("</tr>")[0]
        return [int(n) for n in re.findall(r'<td class="[a-z-]+">(\d+)</td>', row)]

    # agents; available, lunch, offline; offline, away, finishing, not receiving, busy, active, free; live chat
    assert cells("all") == [5, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 3]
    assert cells(floor["beta"].pk) == [3, 2, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1]


def test_rows_show_the_active_queues(sup_client, floor):
    html = sup_client.get(reverse("presence:board")).content.decode()

    def queues(agent):
        row = html[html.index(f'data-agent="{agent.pk}"') :].split("</tr>")[0]
        return re.search(r'<td class="queues">([^<]*)</td>', row).group(1)

    assert queues(floor["bob"]) == "Alpha"  # Beta left
    assert queues(floor["ann"]) == "Alpha" and queues(floor["eve"]) == "Beta" and queues(floor["dev"]) == "-"


def _agents_shown(client, **params) -> list[str]:
    html = client.get(reverse("presence:board-rows"), params).content.decode()
    return re.findall(r'data-agent="\d+"[^>]*>\s*<td>(?:<span[^>]*>[^<]*</span> )?<a [^>]*>([^<]+)</a>', html)


def test_filter_by_team_keeps_the_status_and_availability_filters(sup_client, floor, statuses, make_team):
    beta = floor["beta"].pk
    assert _agents_shown(sup_client) == ["ann", "bob", "cara", "dev", "eve"]
    assert _agents_shown(sup_client, team=beta) == ["bob", "cara", "eve"]  # members, also those who left
    assert _agents_shown(sup_client, team=beta, status=statuses["available"].pk) == ["bob", "eve"]
    assert _agents_shown(sup_client, team=beta, availability="away") == ["cara"]
    assert _agents_shown(sup_client, team=floor["alpha"].pk, availability="busy") == []
    page = sup_client.get(reverse("presence:board"), {"team": beta}).content.decode()
    assert f'<option value="{beta}" selected>Beta</option>' in page and "All teams" in page
    empty = make_team("Empty")
    page = sup_client.get(reverse("presence:board"), {"team": empty.pk}).content.decode()
    assert f'<option value="{empty.pk}" selected>Empty</option>' in page and "No agents match." in page


def test_counts_stay_for_all_agents_while_filtered(sup_client, floor):
    html = sup_client.get(reverse("presence:board"), {"team": floor["alpha"].pk}).content.decode()
    all_line = html[html.index('data-counts="all"') :].split("</tr>")[0]
    assert '<td class="agents">5</td>' in all_line


def test_the_polled_rows_carry_the_counts_for_the_script(sup_client, floor):
    rows = sup_client.get(reverse("presence:board-rows")).content.decode()
    assert '<template id="board-counts-next">' in rows and 'data-counts="all"' in rows
    page = sup_client.get(reverse("presence:board")).content.decode()
    assert "board-counts-next" not in page  # the page renders the counts once, above the rows


def test_an_agent_without_a_presence_row_is_counted_offline(make_team):
    user = UserFactory(username="newbie")
    AgentProfile.objects.create(user=user)
    TeamMembership.objects.create(agent=user, team=make_team("Alpha"))
    board = selectors.board()
    assert [row.agent for row in board.rows] == [user] and board.rows[0].live_chat is False
    assert _line(board.counts) == {"agents": 1, "offline": 1, "live_chat": 0}


def _many_agents(n, statuses, teams):
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"bulk{i:04d}") for i in range(n)])
    AgentProfile.objects.bulk_create([AgentProfile(user=u) for u in users])
    kinds = [statuses["available"], statuses["lunch"], statuses["busy"]]
    AgentPresence.objects.bulk_create([AgentPresence(agent=u, status=kinds[i % 3]) for i, u in enumerate(users)])
    TeamMembership.objects.bulk_create(
        [TeamMembership(agent=u, team=teams[i % len(teams)], active=i % 4 != 0) for i, u in enumerate(users)]
        + [TeamMembership(agent=u, team=teams[0]) for u in users[1 :: len(teams)]]
    )
    Ticket.objects.bulk_create([Ticket(subject="t", assignee=u) for u in users[:20]])
    recount_load()


@pytest.mark.parametrize("n", [10, 600])
def test_the_board_with_counts_is_a_constant_number_of_queries(
    sup_client, statuses, make_team, n, django_assert_max_num_queries
):
    teams = [make_team(f"Team {i}") for i in range(4)]
    _many_agents(n, statuses, teams)
    # As test_board_is_a_constant_number_of_queries: the same statements at 10 or 600 agents
    # (+2 there for the page's adherence, C8, and +1 for the coverage alarms, C7).
    with django_assert_max_num_queries(18):
        page = sup_client.get(reverse("presence:board"))
    assert page.content.decode().count("data-agent=") == min(n, BOARD_PAGE_SIZE)
    assert page.content.decode().count('data-counts="') == 5  # all agents and four teams
    with django_assert_max_num_queries(18):
        assert sup_client.get(reverse("presence:board-rows")).status_code == 200
    # A team filter reads the chosen team once; the team choices come with the rows.
    with django_assert_max_num_queries(19):
        filtered = sup_client.get(reverse("presence:board"), {"team": teams[1].pk, "availability": "away"})
    assert 0 < filtered.content.decode().count("data-agent=") < n
