"""Result references and slot addresses: exact formats, helpful rejections, property tests."""

import pytest
from hypothesis import given, strategies as st

from tui.core.errors import RefError
from tui.core.refs import ResultRef, SlotAddress, check_job_uid, parse_version

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
jobs = st.integers(min_value=0, max_value=10**6).map(lambda n: f"J{n}")
versions = st.one_of(st.just("F"), st.integers(min_value=0, max_value=10**6))


def test_parse_final_and_iteration():
    assert ResultRef.parse("J688.particles.blob.F") == ResultRef("J688", "particles", "blob", "F")
    assert ResultRef.parse("J683.particles.alignments3D.3") == ResultRef("J683", "particles", "alignments3D", 3)


def test_version_left_out_means_final_and_short_form_drops_F():
    ref = ResultRef.parse("J683.particles.alignments3D")
    assert ref.version == "F"
    assert str(ref) == "J683.particles.alignments3D.F"
    assert ref.short == "J683.particles.alignments3D"
    assert ref.at(3).short == "J683.particles.alignments3D.3"


def test_slot_addresses():
    assert SlotAddress.parse("particles.0.blob") == SlotAddress("particles", 0, "blob")
    full = SlotAddress.parse("J690.particles.0.blob")
    assert (full.job, full.input, full.connection, full.slot) == ("J690", "particles", 0, "blob")
    assert str(full) == "J690.particles.0.blob" and full.local == "particles.0.blob"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("J688.particles", "2 dot-separated parts"),
        ("688.particles.blob.F", "job uid '688' is not valid"),
        ("J688.particles.blob.-1", "version '-1' is not valid"),
        ("J688.particles.blob.01", "version '01' is not valid"),
        ("J688.part icles.blob", "output name 'part icles' is not valid"),
        ("J688.particles.3blob.F", "result name '3blob' is not valid"),
        ("", "1 dot-separated parts"),
        ("J1.a.b.F.x", "5 dot-separated parts"),
    ],
)
def test_malformed_references_say_what_is_wrong(text, fragment):
    with pytest.raises(RefError) as info:
        ResultRef.parse(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("particles.blob", "2 dot-separated parts"),
        ("particles.x.blob", "connection index 'x' is not valid"),
        ("particles.01.blob", "connection index '01' is not valid"),
        ("9particles.0.blob", "input name '9particles' is not valid"),
    ],
)
def test_malformed_slot_addresses(text, fragment):
    with pytest.raises(RefError) as info:
        SlotAddress.parse(text)
    assert fragment in str(info.value)


def test_job_uid_and_version_helpers():
    assert check_job_uid("j42") == "J42"
    with pytest.raises(RefError, match="not a job uid"):
        check_job_uid("W1")
    assert parse_version("F") == "F" and parse_version("12") == 12
    with pytest.raises(RefError, match="version 'last'"):
        parse_version("last")


@pytest.mark.parametrize("typed", ["J9", "j9", "9", " 9 ", "  j9\t"])
def test_a_typed_job_uid_may_be_j9_or_9(typed):
    assert check_job_uid(typed) == "J9"


@pytest.mark.parametrize("typed", ["", "J", "j", "9a", "-9", "J-9", "W9", "9.particles", "J 9"])
def test_what_is_not_a_job_uid_is_refused(typed):
    with pytest.raises(RefError, match="is not a job uid: expected J followed by a number, e.g. J42 \\(or j42, or 42\\)"):
        check_job_uid(typed)


def test_references_and_slot_addresses_stay_strict():
    """The shorthand is for a typed job uid only: what plans store and commands take as a
    reference keeps the exact J9."""
    for text in ("9.particles.blob", "j9.particles.blob.F"):
        with pytest.raises(RefError, match="job uid"):
            ResultRef.parse(text)
    with pytest.raises(RefError, match="not a slot address"):
        SlotAddress.parse("12.particles.0.blob")


@given(jobs, names, names, versions)
def test_format_of_parse_is_identity(job, output, result, version):
    text = f"{job}.{output}.{result}.{version}"
    assert str(ResultRef.parse(text)) == text
    ref = ResultRef(job, output, result, version)
    assert ResultRef.parse(str(ref)) == ref


@given(st.one_of(st.none(), jobs), names, st.integers(min_value=0, max_value=500), names)
def test_slot_format_of_parse_is_identity(job, input_name, index, slot):
    address = SlotAddress(input_name, index, slot, job)
    assert SlotAddress.parse(str(address)) == address


@given(st.text(max_size=60))
def test_garbage_raises_only_our_error(text):
    for parse in (ResultRef.parse, SlotAddress.parse):
        try:
            parse(text)
        except RefError:
            pass


@given(st.one_of(st.integers(), st.none(), st.binary(max_size=10), st.lists(st.text(max_size=3))))
def test_non_text_raises_our_error(value):
    with pytest.raises(RefError):
        ResultRef.parse(value)
