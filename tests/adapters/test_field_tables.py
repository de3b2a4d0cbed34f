"""The dialects' field tables: each XML name is spelled in a table only, and every record kind
goes canonical -> XML -> canonical unchanged through its table."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import inspect
import random
import re
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from lxml import etree

from adapters.burvis import dialect as burvis
from adapters.burvis.simulator import profilings
from adapters.gvs import dialect as gvs
from adapters.lietis import dialect as lietis
from adapters.sopa import dialect as sopa
from adapters.spolis import services as spolis
from adapters.vdeavk import dialect as vdeavk
from adapters.vdeavk.simulator import disability_of, opinions
from adapters.vsaa import dialect as vsaa
from adapters.vsaa.simulator import VsaaService
from hub.canonical import Municipality
from hub.canonical.queries import DeductionsQuery, DisabilityQuery, GrantedBenefitsQuery, PaymentsQuery
from hub.envelope import Envelope
from hub.settings import PROJECT_ROOT
from hub.simulation.people import person_code
from hub.simulation.record_store import RecordStore
from hub.simulation.records import RecordFactory
from hub.xml.fields import SELF, Field, Table, group
from hub.xml.schema import Schema

MODULES = [
    "adapters.sopa.dialect",
    "adapters.sopa.receiver",
    "adapters.lietis.dialect",
    "adapters.lietis.receiver",
    "adapters.gvs.dialect",
    "adapters.burvis.dialect",
    "adapters.vsaa.dialect",
    "adapters.vdeavk.dialect",
    "adapters.spolis.services",
    "adapters.spolis.outbound",
]
PLACE = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")
TODAY = dt.date.today()


# -- one place for each name ------------------------------------------------------------------------


def tables_in(value: Any) -> Iterator[Table]:
    if isinstance(value, Table):
        yield value
        for f in value.fields:
            if f.table is not None:
                yield from tables_in(f.table)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from tables_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tables_in(item)


def xml_names(module: ModuleType) -> set[str]:
    """The XML names the module's tables spell; a name that is also its field's canonical name
    (`atvk`) cannot be told from it in code, so it is left out."""
    tables = [t for value in vars(module).values() for t in tables_in(value)]
    return {name for t in tables for f in t.fields for name in f.names if name != f.name}


def _docstrings(tree: ast.Module) -> set[int]:
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }


def names_spelled_in_code(source: str) -> dict[str, list[int]]:
    """Name-like words of the string literals in a module's functions and classes (a table is
    defined at module level), outside the `Field` and `group` calls that build tables: word -> lines.
    Literals with spaces are messages, not names."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: dict[str, list[int]] = {}

    def visit(node: ast.AST, in_code: bool) -> None:
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"Field", "group"}:
            return
        if in_code and isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if not re.search(r"\s", node.value):
                for word in re.findall(r"[A-Za-z_]\w*", node.value):
                    found.setdefault(word, []).append(node.lineno)
        for inner in ast.iter_child_nodes(node):
            visit(inner, in_code or isinstance(node, ast.FunctionDef | ast.ClassDef))

    visit(tree, False)
    return found


@pytest.mark.parametrize("name", MODULES)
def test_each_xml_name_is_spelled_in_a_table_only(name: str):
    module = importlib.import_module(name)
    names = xml_names(module)
    assert names, f"{name} has no field tables"
    spelled = names_spelled_in_code(inspect.getsource(module))
    assert {word: lines for word, lines in spelled.items() if word in names} == {}


def repeated_calls(source: str, names: set[str]) -> list[str]:
    """Calls with only literal arguments, one of them spelling an XML name, made more than once:
    the same field (or group) spelled twice where one shared definition would do."""
    calls = [
        ast.unparse(node)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and node.args
        and all(isinstance(arg, ast.Constant) for arg in node.args)
        and any(isinstance(arg.value, str) and names & set(re.findall(r"\w+", arg.value)) for arg in node.args)
    ]
    return sorted({call for call in calls if calls.count(call) > 1})


@pytest.mark.parametrize("name", MODULES)
def test_no_field_is_spelled_twice(name: str):
    module = importlib.import_module(name)
    assert repeated_calls(inspect.getsource(module), xml_names(module)) == []


def test_the_check_finds_a_name_read_by_hand():
    source = (
        'TABLE = Table(NS, Field("kind", "Veids"))\n'
        "def to_canonical(v):\n"
        '    """Reads `Veids`."""\n'
        '    return v.get("PabalstaVeids"), f"{{{NS}}}Lemums", Field("x", "Kept"), "a message with Veids"\n'
    )
    assert set(names_spelled_in_code(source)) == {"PabalstaVeids", "Lemums"}
    twice = 'A = Table(NS, Field("a", "X"))\nB = Table(NS, Field("a", "X"), Field("b", "X"))\n'
    assert repeated_calls(twice, {"X"}) == ["Field('a', 'X')"]


# -- round trips ------------------------------------------------------------------------------------


def factory(seed: int = 3) -> RecordFactory:
    return RecordFactory(municipality=PLACE, record_prefix="R", decision_prefix="R", rng=random.Random(seed))


def valid(xsd: str, body: etree._Element) -> etree._Element:
    """The body as a partner would send it: schema-valid, parsed from its bytes."""
    assert Schema(PROJECT_ROOT / "schemas" / xsd).errors(body) == []
    return etree.fromstring(etree.tostring(body))


def records(parsed: list) -> list:  # type: ignore[type-arg]
    return [p.record for p in parsed]


MUNICIPAL = {
    "sopa": (sopa, "sopa/sopa-v1.xsd"),
    "lietis": (lietis, "lietis/lietis-v1.xsd"),
    "gvs": (gvs, "gvs/gvs-v1.xsd"),
}


@pytest.mark.parametrize("system", MUNICIPAL)
@pytest.mark.parametrize("kind", ["benefit", "household_status", "social_service"])
def test_municipal_records_round_trip(system: str, kind: str):
    module, xsd = MUNICIPAL[system]
    make: Callable[[], Any] = getattr(factory(), kind)
    sent = [make() for _ in range(6)]
    assert records(module.to_canonical(valid(xsd, module.from_canonical(sent, PLACE, "RT-1")))) == sent


def test_burvis_profiles_and_duties_round_trip():
    sent = profilings(20, random.Random(4), TODAY)
    assert records(burvis.profiles_to_canonical(valid("burvis/burvis-v1.xsd", burvis.profiles_to_xml(sent)))) == sent
    f = factory(5)
    duties = [f.cooperation_duties() for _ in range(10)]
    body = valid("burvis/burvis-v1.xsd", burvis.duties_to_xml(duties, PLACE))
    assert records(burvis.duties_to_canonical(body)) == duties


def test_vdeavk_opinions_queries_and_answers_round_trip():
    sent = opinions(30, random.Random(6), TODAY)
    body = valid("vdeavk/vdeavk-v1.xsd", vdeavk.opinions_to_xml(sent))
    assert records(vdeavk.opinions_to_canonical(body)) == sent
    for seed in range(20):
        code = person_code(random.Random(seed))
        query = DisabilityQuery(person_code=code)
        assert records(vdeavk.query_to_canonical(valid("vdeavk/vdeavk-v1.xsd", vdeavk.query_to_xml(query)))) == [query]
        answer = disability_of(code, TODAY)
        assert vdeavk.answer_from_xml(valid("vdeavk/vdeavk-v1.xsd", vdeavk.answer_to_xml(answer))) == answer


def test_vsaa_queries_and_answers_round_trip():
    service = VsaaService(today=TODAY)
    items = 0
    for seed in range(15):
        code = person_code(random.Random(seed))
        start = TODAY - dt.timedelta(days=random.Random(seed).randrange(30, 700))
        for query in (
            DeductionsQuery(person_code=code, period_from=start, period_to=TODAY),
            GrantedBenefitsQuery(person_code=code, as_of=start),
            PaymentsQuery(person_code=code, period_from=start, period_to=TODAY),
        ):
            request = valid("vsaa/vsaa-v1.xsd", vsaa.query_to_xml(query))
            assert records(vsaa.request_to_canonical(request)) == [query]
            answer = vsaa.answer_from_xml(query.TYPE, service._answer(request))
            items += len(next(iter(answer.__dict__.values())))
            assert vsaa.answer_from_xml(query.TYPE, valid("vsaa/vsaa-v1.xsd", vsaa.answer_to_xml(answer))) == answer
    assert items > 0


def test_spolis_assistance_and_report_round_trip():
    f = factory(7)
    services = [f.assistant_service() for _ in range(10)]
    body = valid("spolis/spolis-v1.xsd", spolis.assistance_to_xml(services, PLACE))
    assert records(spolis.assistance_to_canonical(body)) == services
    report = f.monthly_report(2024, 2)
    body = valid("spolis/spolis-v1.xsd", spolis.report_to_xml([report], PLACE))
    assert records(spolis.report_to_canonical(body)) == [report]


@pytest.mark.parametrize("system", ["sopa", "lietis"])
def test_profiles_delivered_to_a_municipality_are_stored_as_sent(system: str, tmp_path):
    receiver = importlib.import_module(f"adapters.{system}.receiver")
    intake = receiver.PROFILE_INTAKE
    simulator = importlib.import_module(f"adapters.{system}.simulator").SIMULATOR.intake
    sent = profilings(5, random.Random(8), TODAY)
    envelopes = [Envelope.of(p, source="burvis", target=system, user_id="u", correlation_id=uuid.uuid4()) for p in sent]
    request = intake.request([intake.item(e) for e in envelopes])
    store = RecordStore(tmp_path / "store.sqlite3")
    answer = simulator.take(store, valid(intake.schema, request))
    assert [(r.message_id, r.outcome) for r in intake.results(answer)] == [
        (e.message_id, "delivered") for e in envelopes
    ]
    rows = store._db.execute("SELECT message_id, source_record_id, person_code, decided_at FROM records").fetchall()
    assert sorted(rows) == sorted(
        (str(e.message_id), p.record_id, p.person_code, p.decided_at.isoformat())
        for e, p in zip(envelopes, sent, strict=True)
    )
    again = simulator.take(store, request)
    assert {r.outcome for r in intake.results(again)} == {"duplicate"}
    for p, item in zip(sent, request, strict=True):
        read = receiver.PROFILE.read(item)
        assert (read["status"], read["profile"], read["recommended_measures"]) == (
            p.status,
            p.profile,
            p.recommended_measures,
        )


# -- the machinery ----------------------------------------------------------------------------------

NS = "urn:example:fields"
CODES = {"A": "alpha", "B": "beta"}
INNER = Table(NS, Field("code", "@kods", codes=CODES), Field("day", "@diena"))
RECORD = Table(
    NS,
    Field("record_id", "@id", also=("number",)),
    *group("Lemums", Field("decided_on", "@datums"), Field("note", SELF)),
    Field("amount", "Summa", attributes={"valuta": "EUR"}),
    Field("cents", "Centi", read=lambda cents: cents and Decimal(cents) / 100, write=lambda v: str(int(v * 100))),
    Field("flag", "Karogs", read=lambda text: text == "true"),
    Field("words", "Vards", many=True),
    Field("items", "Vienums", many=True, table=INNER),
    Field("one", "Viens", table=INNER),
)


class Thing:
    record_id = "T-1"
    decided_on = dt.date(2024, 5, 1)
    note = "n"
    amount = Decimal("1.50")
    cents = Decimal("2.35")
    flag = True
    words = ["x", "y"]
    items = [type("Item", (), {"code": "beta", "day": dt.date(2024, 5, 2)})()]
    one = type("One", (), {"code": "alpha", "day": None})()


def test_a_table_writes_in_its_order_and_reads_back():
    element = RECORD.write(etree.Element(f"{{{NS}}}R", nsmap={"x": NS}), Thing())
    assert etree.tostring(element).decode() == (
        f'<x:R xmlns:x="{NS}" id="T-1"><x:Lemums datums="2024-05-01">n</x:Lemums>'
        '<x:Summa valuta="EUR">1.50</x:Summa><x:Centi>235</x:Centi><x:Karogs>true</x:Karogs>'
        '<x:Vards>x</x:Vards><x:Vards>y</x:Vards><x:Vienums kods="B" diena="2024-05-02"/><x:Viens kods="A"/></x:R>'
    )
    assert RECORD.read(element) == {
        "record_id": "T-1",
        "number": "T-1",
        "decided_on": "2024-05-01",
        "note": "n",
        "amount": "1.50",
        "cents": Decimal("2.35"),
        "flag": True,
        "words": ["x", "y"],
        "items": [{"code": "beta", "day": "2024-05-02"}],
        "one": {"code": "alpha", "day": None},
    }
    assert RECORD.paths["decided_on"] == "Lemums/@datums" and RECORD.paths["note"] == "Lemums"
    assert RECORD.paths["number"] == RECORD.paths["record_id"] == "@id"


def test_texts_are_read_in_one_pass_by_their_namespace_and_absent_ones_as_none():
    table = Table(NS, Field("a", "A"), Field("b", "G/B"), Field("c", "C"))
    element = etree.fromstring(
        f'<r xmlns="{NS}" xmlns:o="urn:other"><A> 1 </A><!-- c --><o:C>no</o:C><G><B>2</B></G><?pi x?></r>'
    )
    assert table.read(element) == {"a": "1", "b": "2", "c": None}
    omitting = Table(NS, Field("a", "A"), Field("c", "C"), omit_missing=True)
    assert omitting.read(element) == {"a": "1"}
    assert Table(NS, Field("a", "A"), strip=False).read(element) == {"a": " 1 "}


def test_a_group_with_nothing_to_write_is_left_out():
    table = Table(NS, Field("a", "A"), *group("G", Field("b", "@b"), Field("c", "C")))
    element = table.write(etree.Element(f"{{{NS}}}R"), type("R", (), {"a": "1", "b": None})())
    assert [etree.QName(e).localname for e in element] == ["A"]


@pytest.mark.parametrize(
    "fields",
    [
        (Field("a", "A"), Field("a", "B")),  # one canonical field twice
        (Field("a", "G/@a"), Field("b", "B"), Field("c", "G/@c")),  # a child's fields apart
        (Field("a", "A"), Field("b", "G/A")),  # two texts read by the same name
    ],
)
def test_a_table_that_cannot_be_one_place_is_refused(fields: tuple[Field, ...]):
    with pytest.raises(ValueError):
        Table(NS, *fields)
