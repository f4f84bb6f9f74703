"""`yagona cards list | add`: the development card processor's test cards, through the real command.
Development mode only; every refusal is one line, a non-zero exit and nothing written."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from idp.cards import luhn_ok
from idp.gateways.cards import CardHolder, DevelopmentCards

YAGONA = str(Path(sys.executable).with_name("yagona"))
FIELDS = {"pan", "expiry", "holder", "phone", "state"}


@pytest.fixture()
def instance(tmp_path) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir(mode=0o700)
    return folder


@pytest.fixture()
def run(database_url, settings, instance):
    """`yagona` as a process in development mode on the suite's database and an instance folder of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAGONA_")}
    env.update(DATABASE_URL=database_url, YAGONA_INSTANCE=str(instance), YAGONA_SECRET_KEY=settings.secret_key.decode(),
               YAGONA_DEV="1")

    def run(*args: str, **changes: str | None) -> subprocess.CompletedProcess:
        here = {**env, **changes}
        here = {k: v for k, v in here.items() if v is not None}
        return subprocess.run([YAGONA, "cards", *args], capture_output=True, text=True, env=here, timeout=120)

    return run


def _refused(out: subprocess.CompletedProcess, words: str) -> None:
    assert out.returncode != 0, out.stdout
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    assert words in out.stderr, out.stderr


def test_list_shows_the_shipped_test_cards(run):
    out = run("list", "--json")
    assert out.returncode == 0, out.stderr
    cards = json.loads(out.stdout)
    assert all(set(c) == FIELDS for c in cards)
    assert {"pan": "8600120000000011", "expiry": "12/40", "holder": "ALIYEV VALI", "phone": "+998901234567",
            "state": "good"} in cards
    assert {c["state"] for c in cards} == {"good", "blocked", "expired"} and any(c["phone"] is None for c in cards)
    plain = run("list")
    assert plain.returncode == 0 and "8600 1200 0000 0011  12/40  good" in plain.stdout
    assert len(plain.stdout.splitlines()) == len(cards)


def test_an_added_card_is_listed_and_answered_by_the_processor(run, instance):
    out = run("add", "--pan", "8600 1200 0000 0052", "--expiry", "01/33", "--holder", "Toshmatov Sardor",
              "--phone", "+998 93 123 45 62")
    assert out.returncode == 0, out.stderr
    assert "****0052" in out.stdout and "8600120000000052" not in out.stdout + out.stderr
    blocked = run("add", "--pan", "9860120000000048", "--expiry", "01/33", "--holder", "KARIMOVA NODIRA",
                  "--state", "blocked")
    assert blocked.returncode == 0, blocked.stderr
    listed = json.loads(run("list", "--json").stdout)
    assert listed[-2:] == [
        {"pan": "8600120000000052", "expiry": "01/33", "holder": "TOSHMATOV SARDOR", "phone": "+998931234562",
         "state": "good"},
        {"pan": "9860120000000048", "expiry": "01/33", "holder": "KARIMOVA NODIRA", "phone": None, "state": "blocked"}]
    assert stat.S_IMODE((instance / "dev-cards.json").stat().st_mode) == 0o600
    assert DevelopmentCards(instance).holder("8600120000000052", "01/33") == CardHolder("TOSHMATOV SARDOR",
                                                                                       "+998931234562")


@pytest.mark.parametrize("args,words", [
    (("--pan", "8600120000000012", "--expiry", "01/33", "--holder", "ALIYEV VALI"), "mistyped"),
    (("--pan", "4111111111111111", "--expiry", "01/33", "--holder", "ALIYEV VALI"), "not accepted"),
    (("--pan", "86001200", "--expiry", "01/33", "--holder", "ALIYEV VALI"), "number invalid"),
    (("--pan", "8600120000000052", "--expiry", "01/20", "--holder", "ALIYEV VALI"), "expired"),
    (("--pan", "8600120000000052", "--expiry", "1/33", "--holder", "ALIYEV VALI"), "expiry invalid"),
    (("--pan", "8600120000000011", "--expiry", "12/40", "--holder", "ALIYEV VALI"), "already a test card"),
    (("--pan", "8600120000000052", "--expiry", "01/33", "--holder", "ALIYEV VALI", "--phone", "12345"), "+998"),
    (("--pan", "8600120000000052", "--expiry", "01/33", "--holder", "<b>ALIYEV</b>"), "Latin letters"),
    (("--pan", "8600120000000052", "--expiry", "01/33", "--holder", "ALIYEV VALI", "--state", "stolen"), "stolen"),
    (("--pan", "8600120000000052", "--expiry", "01/33"), "--holder"),
])
def test_a_bad_card_is_refused_in_one_line_and_nothing_is_written(run, instance, args, words):
    _refused(run("add", *args), words)
    assert list(instance.iterdir()) == [] or [p.name for p in instance.iterdir()] == [".lock"]
    assert "dev-cards.json" not in {p.name for p in instance.iterdir()}


def test_a_broken_added_file_is_one_line_naming_it(run, instance):
    (instance / "dev-cards.json").write_text("{not json")
    _refused(run("list"), "dev-cards.json")
    _refused(run("add", "--pan", "8600120000000052", "--expiry", "01/33", "--holder", "ALIYEV VALI"), "dev-cards.json")
    assert (instance / "dev-cards.json").read_text() == "{not json"


@pytest.mark.parametrize("command", [("list",), ("list", "--json"),
                                     ("add", "--pan", "8600120000000052", "--expiry", "01/33", "--holder", "A B")])
def test_outside_development_mode_the_commands_refuse_in_one_line(run, instance, command):
    out = run(*command, YAGONA_DEV=None)
    _refused(out, "YAGONA_DEV=1")
    assert "8600" not in out.stdout + out.stderr
    _refused(run(*command, YAGONA_CARDS_URL="https://cards.example.uz/holder"), "YAGONA_CARDS_URL")
    _refused(run(*command, YAGONA_CARDS_URL="http://cards.example.uz/holder"), "https")
    assert list(instance.iterdir()) == []


def test_outside_an_instance_the_commands_refuse_in_one_line(run, tmp_path):
    out = run("list", YAGONA_INSTANCE=str(tmp_path / "nowhere"), DATABASE_URL=None, YAGONA_SECRET_KEY=None)
    _refused(out, "no Yagona instance")
    assert not (tmp_path / "nowhere").exists()


def test_parallel_adds_all_land(run, database_url, settings, instance):
    """Each `cards add` reads, extends and replaces the file under a lock: none overwrites another's card."""
    pans = [n + str(next(c for c in "0123456789" if luhn_ok(n + c))) for n in
            (f"8600130000000{i}" for i in range(10, 16))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAGONA_")}
    env.update(DATABASE_URL=database_url, YAGONA_INSTANCE=str(instance), YAGONA_SECRET_KEY=settings.secret_key.decode(),
               YAGONA_DEV="1")
    procs = [subprocess.Popen([YAGONA, "cards", "add", "--pan", pan, "--expiry", "01/33", "--holder", "ALIYEV VALI"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for pan in pans]
    assert [p.wait(timeout=120) for p in procs] == [0] * len(pans)
    listed = {c["pan"] for c in json.loads(run("list", "--json").stdout)}
    assert set(pans) <= listed
