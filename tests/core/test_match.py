"""Export with a match instead of the uid join (issue 10 item 4): symmetry-expanded particles
(--match src_uid) and particles extracted twice (--match location, --match path), on generated
projects where every particle's identity is known, ambiguous matches included (refused, never
guessed). Every export also checks the project is unchanged."""

from __future__ import annotations

import re

import numpy as np
import pytest
from cryosparc.dataset import Dataset

from test_export import job, result, write_cs, write_project, unchanged  # noqa: F401 (fixture)
from tui.core import routes
from tui.core.errors import CsRebindError, ExportError
from tui.core.export import MatchSpec, lay_out_export, prepare_export
from tui.core.export.match import match_keys, match_location, path_keys, pick_position
from tui.core.preview import preview_connection, preview_session
from tui.core.project import load_project
from tui.core.session import EditSession
from tui.demo.docgen import DocInput, DocOutput, connect_output, doc_slots

N = 60  # picks
MICS = 4
SHAPE = (4092, 5760)  # micrograph_shape is (ny, nx)
JITTER = (1.5, 1.0)  # px moved by the re-extraction: 1.80 px
LOST_BY_J4 = (3, 20, 41)  # picks the re-extraction lost
CROWDED = 7  # J4 has a second pick 0.5 px from this one: ambiguous
ELSEWHERE = 9  # J4 has a pick at these coordinates on another micrograph: no match there
LOST_BY_J5, TWICE_IN_J5 = (11, 12), 30  # the re-import lost two images and holds one twice
LOST_BY_J6, TWICE_IN_J6 = 5, 4  # the subset lacks a particle and holds one uid twice


def new_uids(rng, n, base):
    return (np.uint64(base) + rng.permutation(n).astype(np.uint64)) * np.uint64(7919)


def picks(rng):
    """N picks on a grid (at least 150 px apart), 15 per micrograph; x, y in pixels."""
    mic_uids = rng.integers(1, 2**63, MICS, dtype=np.uint64)
    k = np.arange(N)
    mic = mic_uids[k % MICS]
    x = 200.0 + 300.0 * (k // MICS) + rng.uniform(0, 50, N)
    y = 300.0 + 150.0 * (k % 7) * 3 + rng.uniform(0, 50, N)
    return mic, x, y


def location(mic, x, y):
    n = len(mic)
    return {"location/micrograph_uid": mic, "location/micrograph_path": np.array([b"J0/mic.mrc"] * n),
            "location/micrograph_shape": np.tile(np.array(SHAPE, "u4"), (n, 1)),
            "location/center_x_frac": (x / SHAPE[1]).astype("f4"), "location/center_y_frac": (y / SHAPE[0]).astype("f4")}


def blob(path, idx, psize, box):
    n = len(idx)
    return {"blob/path": np.array([path.encode()] * n) if isinstance(path, str) else path,
            "blob/idx": np.asarray(idx, "u4"), "blob/shape": np.full((n, 2), box, "u4"),
            "blob/psize_A": np.full(n, psize, "f4")}


def make_project(root, schema):
    """J1 Extract: N picks (uids A), full-size blob (blob/idx = pick number), location.
    J2 refinement of J1 (uids A, J1's blob, alignments3D, ctf passthrough).
    J3 C2 symmetry expansion of J2 downsampled: 2N copies (uids E, sym_expand/src_uid = A),
    small blob, alignments3D, location passthrough.
    J4 re-extraction of J1's picks (uids R): blob/idx = pick number, picks moved by JITTER,
    LOST_BY_J4 missing, a second pick by CROWDED, ELSEWHERE's coordinates on another micrograph.
    J5 re-import of J1's stacks (uids P): blob in one file, ctf (df1_A = 10000 + pick) in another;
    LOST_BY_J5 missing, TWICE_IN_J5 twice. J6 subset of J1 lacking LOST_BY_J6, TWICE_IN_J6's uid twice.
    J10 (building) takes J3's particles; J11 (building) takes J2's."""
    rng = np.random.default_rng(10)
    mic, x, y = picks(rng)
    k = np.arange(N)
    stacks = np.array([f"J1/extract/mic{m}_particles.mrc".encode() for m in k % MICS])
    a = new_uids(rng, N, 10**6)
    write_cs(root / "J1/extracted.cs", a, {**blob(stacks, k, 1.0, 400), **location(mic, x, y)})
    order2 = rng.permutation(N)
    write_cs(root / "J2/J2_particles.cs", a[order2], {
        **blob(stacks[order2], k[order2], 1.0, 400),
        "alignments3D/pose": rng.normal(size=(N, 3)).astype("f4"), "alignments3D/shift": np.zeros((N, 2), "f4"),
        "alignments3D/psize_A": np.full(N, 1.0, "f4")})
    write_cs(root / "J2/J2_passthrough_particles.cs", a, {"ctf/df1_A": np.full(N, 5000.0, "f4"), **location(mic, x, y)})
    # J3: C2 expansion of J2, in an order of its own
    src = np.repeat(a[order2], 2)
    copy = np.tile(np.arange(2, dtype="u4"), N)
    e = new_uids(rng, 2 * N, 10**7)
    pick_of = np.repeat(k[order2], 2)
    write_cs(root / "J3/J3_particles_expanded.cs", e, {
        **blob(np.array([b"J2/downsampled.mrc"] * (2 * N)), pick_of, 2.0, 200),
        "alignments3D/pose": rng.normal(size=(2 * N, 3)).astype("f4"),
        "alignments3D/shift": np.zeros((2 * N, 2), "f4"), "alignments3D/psize_A": np.full(2 * N, 2.0, "f4"),
        "sym_expand/src_uid": src, "sym_expand/idx": copy})
    back = pick_of[::-1]  # the passthrough file in another order
    write_cs(root / "J3/J3_passthrough_particles.cs", e[::-1].copy(), location(mic[back], x[back], y[back]))
    # J4: re-extraction
    kept4 = np.setdiff1d(k, LOST_BY_J4)
    mic4, x4, y4, idx4 = mic[kept4], x[kept4] + JITTER[0], y[kept4] + JITTER[1], kept4
    other_mic = mic[(ELSEWHERE + 1) % MICS]
    mic4 = np.concatenate([mic4, [mic[CROWDED], other_mic]])
    x4 = np.concatenate([x4, [x[CROWDED] + 0.5, x[ELSEWHERE]]])
    y4 = np.concatenate([y4, [y[CROWDED], y[ELSEWHERE]]])
    idx4 = np.concatenate([idx4, [1000 + CROWDED, 1000 + ELSEWHERE]])
    order4 = rng.permutation(len(mic4))
    r = new_uids(rng, len(mic4), 10**8)
    write_cs(root / "J4/extracted.cs", r, {**blob("J4/extract/big.mrc", idx4[order4], 1.0, 512),
                                           **location(mic4[order4], x4[order4], y4[order4])})
    # J5: re-import of J1's stacks
    kept5 = np.concatenate([np.setdiff1d(k, LOST_BY_J5), [TWICE_IN_J5]])
    order5 = rng.permutation(len(kept5))
    p = new_uids(rng, len(kept5), 10**9)
    write_cs(root / "J5/imported.cs", p, blob(stacks[kept5[order5]], kept5[order5], 1.0, 400))
    df = (10000.0 + kept5[order5]).astype("f4")
    df[kept5[order5] == TWICE_IN_J5] = [77.0, 88.0]  # the two copies disagree: only a guess could choose
    back = rng.permutation(len(p))
    write_cs(root / "J5/J5_passthrough_particles.cs", p[back], {"ctf/df1_A": df[back]})
    # J6: a subset of J1 with a repeated uid
    rows6 = np.concatenate([np.setdiff1d(k, [LOST_BY_J6]), [TWICE_IN_J6]])
    write_cs(root / "J6/subset.cs", a[rows6], blob(stacks[rows6], rows6, 1.0, 400))

    def out(name, *results, title="Particles"):
        return DocOutput(name, "particle", title, tuple(results))

    outputs = {
        "J1": out("particles", result("blob", "J1/extracted.cs", N), result("location", "J1/extracted.cs", N)),
        "J2": out("particles", result("blob", "J2/J2_particles.cs", N), result("alignments3D", "J2/J2_particles.cs", N),
                  result("ctf", "J2/J2_passthrough_particles.cs", N, passthrough=True),
                  result("location", "J2/J2_passthrough_particles.cs", N, passthrough=True)),
        "J3": out("particles", result("blob", "J3/J3_particles_expanded.cs", 2 * N),
                  result("alignments3D", "J3/J3_particles_expanded.cs", 2 * N),
                  result("sym_expand", "J3/J3_particles_expanded.cs", 2 * N),
                  result("location", "J3/J3_passthrough_particles.cs", 2 * N, passthrough=True)),
        "J4": out("particles", result("blob", "J4/extracted.cs", len(r)), result("location", "J4/extracted.cs", len(r))),
        "J5": out("imported_particles", result("blob", "J5/imported.cs", len(p)),
                  result("ctf", "J5/J5_passthrough_particles.cs", len(p), passthrough=True)),
        "J6": out("particles", result("blob", "J6/subset.cs", len(rows6))),
    }
    slots = doc_slots("blob", "alignments3D", "?ctf")
    on_j3 = DocInput("particles", "particle", "Particles", slots, (connect_output("J3", outputs["J3"], slots),))
    on_j2 = DocInput("particles", "particle", "Particles", slots, (connect_output("J2", outputs["J2"], slots),))
    jobs = [job(uid, outputs=(o,)) for uid, o in outputs.items()]
    write_project(root, jobs + [job("J10", "building", inputs=(on_j3,), parents=("J3",)),
                                job("J11", "building", inputs=(on_j2,), parents=("J2",))], schema)
    return root


@pytest.fixture
def project(tmp_path, schema, unchanged):
    return load_project(unchanged(make_project(tmp_path / f"match-{schema}", schema)))


def export(project, session, out, match: MatchSpec | None, name="x"):
    layout = lay_out_export(project, session.input("particles"), target=session.target.uid, match=match)
    prepared = prepare_export(project, layout)
    report = prepared.write(out, name)
    return np.load(out / f"{name}.cs"), report


def source(project, metafile):
    return np.load(project.path / metafile)


def test_src_uid_joins_the_unexpanded_blob_many_to_one(project, tmp_path):
    session = EditSession(project, "J10")
    session.put("particles.0.blob", "J1.particles.blob")
    with pytest.raises(ExportError, match="--match src_uid"):  # the uid join keeps nothing, and says what to do
        export(project, session, tmp_path / "plain", None)
    table, report = export(project, session, tmp_path / "out", MatchSpec("src_uid"))
    expanded = source(project, "J3/J3_particles_expanded.cs")
    assert table["uid"].tolist() == expanded["uid"].tolist()  # the connection's uids, in its order
    assert len(table) == report.rows == 2 * N
    j1 = source(project, "J1/extracted.cs")
    by_uid = {int(u): i for i, u in enumerate(j1["uid"])}
    rows = [by_uid[int(u)] for u in expanded["sym_expand/src_uid"]]
    np.testing.assert_array_equal(table["blob/idx"], j1["blob/idx"][rows])
    assert (table["blob/shape"] == 400).all() and (table["blob/psize_A"] == 1.0).all()
    np.testing.assert_array_equal(table["alignments3D/pose"], expanded["alignments3D/pose"])
    np.testing.assert_array_equal(table["sym_expand/src_uid"], expanded["sym_expand/src_uid"])
    [matched] = [s for s in report.sources if s.match]
    assert matched.metafile == "J1/extracted.cs" and matched.kept == N  # every J1 row serves two copies
    assert matched.match == (f"matched on sym_expand/src_uid → uid: {2 * N:,} of {2 * N:,} rows matched, "
                             "0 ambiguous (refused, never guessed), 0 without a match (dropped)")
    assert not [w for w in report.warnings if "lineage" in w]
    assert len(Dataset.load(str(tmp_path / "out" / "x.cs"))) == 2 * N


def test_src_uid_refuses_ambiguous_rows_and_drops_unmatched(project, tmp_path):
    session = EditSession(project, "J10")
    session.put("particles.0.blob", "J6.particles.blob")
    table, report = export(project, session, tmp_path / "out", MatchSpec("src_uid"))
    assert len(table) == 2 * N - 4  # two copies each of LOST_BY_J6 (no match) and TWICE_IN_J6 (two matches)
    assert not np.isin(table["blob/idx"], [LOST_BY_J6, TWICE_IN_J6]).any()
    [matched] = [s for s in report.sources if s.match]
    assert "116 of 120 rows matched, 2 ambiguous (refused, never guessed), 2 without a match (dropped)" in matched.match
    expanded = source(project, "J3/J3_particles_expanded.cs")
    assert table["uid"].tolist() == [u for u in expanded["uid"].tolist() if u in set(table["uid"].tolist())]


def test_location_matches_re_extracted_picks_within_the_tolerance(project, tmp_path):
    session = EditSession(project, "J10")
    session.put("particles.0.blob", "J4.particles.blob")
    spec = MatchSpec("location", tolerance=3)
    table, report = export(project, session, tmp_path / "out", spec)
    expanded = source(project, "J3/J3_particles_expanded.cs")
    pick = dict(zip(expanded["uid"].tolist(), expanded["blob/idx"].tolist()))  # J3's own blob/idx is the pick
    refused = {*LOST_BY_J4, CROWDED}
    expected = [u for u in expanded["uid"].tolist() if pick[u] not in refused]
    assert table["uid"].tolist() == expected
    np.testing.assert_array_equal(table["blob/idx"], [pick[u] for u in expected])  # each took its own pick
    assert (table["blob/shape"] == 512).all()
    [matched] = [s for s in report.sources if s.match]
    assert matched.match == ("matched on location/micrograph_uid + pick position within 3 px: 112 of 120 rows "
                             "matched, 2 ambiguous (refused, never guessed), 6 without a match (dropped)")
    assert 1000 + ELSEWHERE not in table["blob/idx"]
    # the picks moved 1.8 px: within 1 px only the crowded pick's neighbour (0.5 px away) is left
    tight, report = export(project, session, tmp_path / "tight", MatchSpec("location", tolerance=1))
    assert tight["blob/idx"].tolist() == [1000 + CROWDED] * 2
    assert "2 of 120 rows matched, 0 ambiguous (refused, never guessed), 118 without a match" in report.lines()[2]


def test_path_matches_blob_path_and_idx_with_keys_from_another_file(project, tmp_path):
    """J5's ctf file holds no blob columns: the keys come from J5's blob file, joined on J5's uids."""
    session = EditSession(project, "J11")
    session.put("particles.0.ctf", "J5.imported_particles.ctf")
    table, report = export(project, session, tmp_path / "out", MatchSpec("path"))
    j2 = source(project, "J2/J2_particles.cs")
    refused = {*LOST_BY_J5, TWICE_IN_J5}
    keep = ~np.isin(j2["blob/idx"], list(refused))
    assert table["uid"].tolist() == j2["uid"][keep].tolist()
    np.testing.assert_array_equal(table["ctf/df1_A"], 10000.0 + j2["blob/idx"][keep])
    [matched] = [s for s in report.sources if s.match]
    assert matched.metafile == "J5/J5_passthrough_particles.cs"
    assert "matched on blob/path + blob/idx: 57 of 60 rows matched, 1 ambiguous" in matched.match
    assert "2 without a match (dropped)" in matched.match


def test_per_slot_match_and_refusals(project, tmp_path):
    session = EditSession(project, "J11")
    session.put("particles.0.ctf", "J5.imported_particles.ctf")
    table, _ = export(project, session, tmp_path / "slot", MatchSpec.parse(["particles.0.ctf=path"]))
    assert len(table) == N - 3
    with pytest.raises(ExportError, match="not symmetry-expanded"):
        export(project, session, tmp_path / "no", MatchSpec("src_uid"))
    with pytest.raises(ExportError, match="expected one of uid, src_uid, location, path"):
        MatchSpec.parse(["nearest"])
    with pytest.raises(ExportError, match="positive"):
        MatchSpec("location", tolerance=0)
    assert not (tmp_path / "no").exists()


def test_preview_hint_and_live_refusal(project, tmp_path):
    session = EditSession(project, "J10")
    session.put("particles.0.blob", "J1.particles.blob")
    [found] = preview_session(session)
    assert found.kept == 0 and found.match_hint.startswith(
        f"an export with --match src_uid would keep {2 * N:,} of {2 * N:,} rows (0 ambiguous, refused)")
    assert "cannot be applied live" in found.match_hint
    assert any(line.startswith("  hint: an export with --match src_uid") for line in found.lines())
    [matched] = preview_session(session, match=MatchSpec("src_uid"))
    assert matched.kept == 2 * N and matched.match_hint is None
    assert any(s.match and s.match.startswith("matched on sym_expand/src_uid") for s in matched.sources)
    for attempt in (lambda: routes.write_plan(session, tmp_path / "p.json"), lambda: routes.prepare_apply(session, {})):
        with pytest.raises(CsRebindError) as info:
            attempt()
        assert "cannot be applied live" in str(info.value) and "--match src_uid" in str(info.value)
    # the candidates list measures on uid only: no hint computed there
    group = session.input("particles")
    assert preview_connection(project, group, 0, "J10").match_hint is None


def test_match_location_against_brute_force():
    rng = np.random.default_rng(4)
    n, m, tolerance = 300, 280, 6.0
    mic_q, mic_s = rng.integers(0, 3, n).astype(np.uint64), rng.integers(0, 3, m).astype(np.uint64)
    x_q, y_q = rng.uniform(0, 400, n), rng.uniform(0, 400, n)
    x_s, y_s = rng.uniform(0, 400, m), rng.uniform(0, 400, m)
    found = match_location(mic_q, x_q, y_q, mic_s, x_s, y_s, tolerance)
    close = ((mic_q[:, None] == mic_s[None, :])
             & ((x_q[:, None] - x_s[None, :]) ** 2 + (y_q[:, None] - y_s[None, :]) ** 2 <= tolerance**2))
    hits = close.sum(axis=1)
    expected = np.where(hits == 1, close.argmax(axis=1), -1)
    np.testing.assert_array_equal(found.rows, expected)
    assert found.ambiguous == int((hits > 1).sum()) > 0 and found.unmatched == int((hits == 0).sum()) > 0


def test_key_helpers():
    found = match_keys(np.array([5, 6, 7, 5], np.uint64), np.array([7, 5, 9, 9], np.uint64))
    assert found.rows.tolist() == [1, -1, 0, 1] and (found.matched, found.ambiguous, found.unmatched) == (3, 0, 1)
    twice = match_keys(np.array([9], np.uint64), np.array([9, 9], np.uint64))
    assert twice.rows.tolist() == [-1] and twice.ambiguous == 1
    q, s = path_keys(np.array([b"a.mrc", b"b.mrc"]), np.array([1, 1]), np.array([b"b.mrc", b"a.mrcs"]), np.array([1, 1]))
    assert q[1] == s[0] and q[0] != s[1]
    x, y = pick_position(np.array([[100, 200]], "u4"), np.array([0.5], "f4"), np.array([0.25], "f4"))
    assert (x[0], y[0]) == (100.0, 25.0)  # shape is (ny, nx)
    assert re.search(r"--tolerance 3", MatchSpec("location").text())
