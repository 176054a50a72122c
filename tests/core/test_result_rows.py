"""A result's rows at F (``final_rows``, written out for speed) agree with what resolving F says,
for any lengths of versions, metafiles and per-version counts a document can give."""

from __future__ import annotations

from hypothesis import given, strategies as st

from tui.core.errors import RefError
from tui.core.model import OutputResult

counts = st.lists(st.one_of(st.none(), st.integers(0, 10**9)), max_size=5)


@given(st.lists(st.integers(0, 99), max_size=5, unique=True), st.lists(st.just("J1/x.cs"), max_size=5), counts)
def test_rows_at_final_are_those_resolving_final_gives(versions, metafiles, num_items):
    result = OutputResult("J1", "particles", "blob", "blob", "particle", False, tuple(versions), tuple(metafiles),
                          tuple(num_items))
    try:
        expected = result.resolve().num_items
    except RefError:  # incomplete: nothing to resolve
        expected = None
        assert not result.complete
    assert result.final_rows == expected
    if result.complete:
        assert result.final_rows == result.rows_at("F")
