"""vswap.workloads: the trace format, its validation, and the workload generators."""

import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vswap import workloads as wl
from vswap.workloads import (
    DATA, FREE, SAME, TOUCH, WRITE, ZERO, Trace, make_workload, memhog, mixed, parse_size,
    random_touch, size_to_pages, usemem,
)


def pages_by(trace, op, content=None):
    mask = trace.op == op
    if content is not None:
        mask &= trace.content == content
    return int(trace.nr[mask].sum())


def region_bases(pages, tasks):
    stride = -(-pages // 512) * 512 + 512
    return [t * stride for t in range(tasks)]


# --------------------------------------------------------------------------- sizes

@pytest.mark.parametrize("text, expected", [
    ("56G", 56 << 30), ("56g", 56 << 30), ("1k", 1024), ("1K", 1024), ("2m", 2 << 20),
    ("3M", 3 << 20), ("1t", 1 << 40), ("4096", 4096), ("1", 1), (4096, 4096),
    (np.int64(8192), 8192),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_size_to_pages():
    assert size_to_pages("56G") == 14_680_064
    assert size_to_pages("48G") == 12_582_912
    assert size_to_pages("1k") == 1
    assert size_to_pages(4096) == 1
    assert size_to_pages(4097) == 2


@pytest.mark.parametrize("bad", ["", "12X", "-5", "-5G", "0", "0k", "G", "1.5G", "1 G", "0x10",
                                 0, -4096])
def test_parse_size_value_errors(bad):
    with pytest.raises(ValueError):
        parse_size(bad)
    with pytest.raises(ValueError):
        size_to_pages(bad)


@pytest.mark.parametrize("bad", [1.5, None, b"1G", True, [4096]])
def test_parse_size_type_errors(bad):
    with pytest.raises(TypeError):
        parse_size(bad)


# --------------------------------------------------------------------------- usemem

@pytest.mark.parametrize("tasks", [1, 2, 3])
def test_usemem_event_arithmetic(tasks):
    pages = size_to_pages("3M")
    t = usemem("3M", tasks=tasks)
    t.validate()
    assert t.pages_touched == tasks * pages
    assert pages_by(t, FREE) == tasks * pages
    assert not (t.op == WRITE).any()
    assert t.pages_written == tasks * pages
    assert t.bytes_written == tasks * pages * 4096
    assert (t.content[t.op == TOUCH] == DATA).all()
    assert (t.order == 0).all()


def test_usemem_56g_is_a_handful_of_events_with_the_right_totals():
    t = usemem("56G")
    assert len(t) == 2
    assert list(t.op) == [TOUCH, FREE]
    assert t.pages_touched == 14_680_064 == pages_by(t, FREE)
    assert t.nr_pages == 14_680_064
    assert t.bytes_written == 60_129_542_144
    t.validate()
    # An mTHP mix of 2 MiB folios only adds one event per run of blocks.
    big = usemem("56G", mthp={9: 0.5})
    big.validate()
    assert big.pages_touched == 14_680_064
    assert len(big) < 30_000


def test_usemem_one_task_is_one_touch_whatever_the_interleave():
    t = usemem("8M", interleave=4)
    assert list(t.op) == [TOUCH, FREE]
    assert (int(t.vpn[0]), int(t.nr[0])) == (0, 2048)


def test_usemem_tasks_interleave_round_robin_by_chunk():
    pages, tasks = 1300, 3
    t = usemem(pages * 4096, tasks=tasks, interleave=512)
    t.validate()
    bases = region_bases(pages, tasks)
    assert list(bases) == [0, 2048, 4096]
    touch = [(int(v), int(n), int(c)) for o, v, n, c in zip(t.op, t.vpn, t.nr, t.cpu) if o == TOUCH]
    expected = []
    for chunk in range(3):  # 512, 512, 276 pages
        for task in range(tasks):
            start = chunk * 512
            expected.append((bases[task] + start, min(512, pages - start), task))
    assert touch == expected
    # -x: every FREE comes after every TOUCH, in the same round-robin chunks.
    first_free = int(np.flatnonzero(t.op == FREE)[0])
    assert (t.op[:first_free] == TOUCH).all() and (t.op[first_free:] == FREE).all()
    free = [(int(v), int(n), int(c)) for o, v, n, c in zip(t.op, t.vpn, t.nr, t.cpu) if o == FREE]
    assert free == expected


def test_usemem_interleave_with_an_mthp_mix_keeps_rounds_and_per_task_order():
    pages, tasks = 4096, 4
    t = usemem(pages * 4096, tasks=tasks, mthp={4: 0.5, 9: 0.25}, interleave=1024, seed=3)
    t.validate()
    bases = np.array(region_bases(pages, tasks))
    for op in (TOUCH, FREE):
        vpn = t.vpn[t.op == op].astype(np.int64)
        task = np.searchsorted(bases, vpn, side="right") - 1
        chunk = (vpn - bases[task]) // 1024
        key = chunk * tasks + task
        assert (np.diff(key) >= 0).all()            # round robin: chunk by chunk, task by task
        for k in range(tasks):
            assert (np.diff(vpn[task == k]) > 0).all()  # each task ascending
    # The mix cuts chunks into several TOUCH runs, but no run crosses a chunk.
    touch = t.op == TOUCH
    start = t.vpn[touch].astype(np.int64)
    task = np.searchsorted(bases, start, side="right") - 1
    rel = start - bases[task]
    assert ((rel % 1024) + t.nr[touch].astype(np.int64) <= 1024).all()


def test_usemem_cpus():
    t = usemem("2M", tasks=3)
    assert t.nr_cpus == 3
    assert sorted(set(t.cpu.tolist())) == [0, 1, 2]
    t = usemem("2M", tasks=3, nr_cpus=2)
    assert t.nr_cpus == 2
    bases = region_bases(512, 3)
    task = np.searchsorted(np.array(bases), t.vpn.astype(np.int64), side="right") - 1
    assert (t.cpu == task % 2).all()
    assert usemem("1M", tasks=100).nr_cpus == 64


@pytest.mark.parametrize("mix", [{4: 0.5}, {2: 0.3, 9: 0.5}, {9: 1.0}, {1: 0.1, 4: 0.2, 9: 0.3}])
def test_mthp_shares_and_alignment(mix):
    pages = size_to_pages("64M")
    t = usemem("64M", mthp=mix, seed=7)
    t.validate()
    touch = t.op == TOUCH
    order = t.order[touch].astype(np.uint64)
    size = np.uint64(1) << order
    assert (t.vpn[touch] % size == 0).all() and (t.nr[touch] % size == 0).all()
    block = 1 << max(mix)
    for k in range(10):
        share = int(t.nr[touch][order == k].sum()) / pages
        want = 1.0 - sum(mix.values()) if k == 0 else mix.get(k, 0.0)
        assert abs(share - want) <= block / pages + 1e-9, (k, share, want)


def test_mthp_string_form_matches_dict_form():
    a = usemem("8M", mthp="4:0.5,9:0.25", seed=2)
    b = usemem("8M", mthp={9: 0.25, 4: 0.5}, seed=2)
    assert np.array_equal(a.order, b.order) and np.array_equal(a.vpn, b.vpn)
    assert a.params["mthp"] == b.params["mthp"] == "4:0.5,9:0.25"
    assert usemem("8M", mthp="").params["mthp"] is None
    assert usemem("8M", mthp={4: 0.0}) == usemem("8M")


def test_region_tail_that_is_not_a_whole_block_is_order_0():
    t = usemem(1000 * 4096, mthp={9: 1.0})
    t.validate()
    touch = t.op == TOUCH
    assert list(zip(t.order[touch].tolist(), t.vpn[touch].tolist(), t.nr[touch].tolist())) == [
        (9, 0, 512), (0, 512, 488)]


@pytest.mark.parametrize("share", [0.05, 0.3, 0.9])
def test_zero_share_within_tolerance(share):
    t = usemem("16M", zero_share=share, seed=11)
    t.validate()
    got = t.summary()["zero_share"]
    assert abs(got - share) < 1e-3
    assert set(t.content[t.op == TOUCH].tolist()) == {DATA, ZERO}
    full = usemem("1M", zero_share=1.0)
    assert full.summary()["zero_share"] == 1.0


def test_zero_share_with_mthp_is_per_block():
    t = usemem("64M", mthp={4: 0.5}, zero_share=0.25, seed=5)
    t.validate()
    touch = t.op == TOUCH
    zero = touch & (t.content == ZERO)
    assert (t.vpn[zero] % 16 == 0).all() and (t.nr[zero] % 16 == 0).all()
    assert abs(t.summary()["zero_share"] - 0.25) < 0.01


# --------------------------------------------------------------------------- memhog

@pytest.mark.parametrize("repeat", [1, 2, 3])
def test_memhog_passes(repeat):
    pages = size_to_pages("30M")  # 7680 pages: three 10 MiB chunks
    t = memhog("30M", passes=repeat)
    t.validate()
    assert t.pages_touched == pages
    assert t.pages_written == repeat * pages
    assert pages_by(t, WRITE) == (repeat - 1) * pages
    assert pages_by(t, FREE) == pages
    assert (t.content[t.op != FREE] == SAME).all()
    assert (t.cpu == 0).all()
    ops = t.op.tolist()
    assert ops == [TOUCH] * 3 + [WRITE] * 3 * (repeat - 1) + [FREE]
    chunks = [(int(v), int(n)) for v, n in zip(t.vpn[:3], t.nr[:3])]
    assert chunks == [(0, 2560), (2560, 2560), (5120, 2560)]
    assert (int(t.vpn[-1]), int(t.nr[-1])) == (0, pages)


def test_memhog_48g():
    t = memhog("48G")
    t.validate()
    assert t.pages_touched == 12_582_912
    assert (t.op == TOUCH).sum() == 4916  # ceil(48 GiB / 10 MiB) memsets
    assert t.summary()["same_share"] == 1.0


def test_memhog_with_mthp_still_touches_in_10m_chunks():
    t = memhog("40M", passes=2, mthp={9: 0.5, 4: 0.25}, seed=1)
    t.validate()
    touch = t.op == TOUCH
    rel = t.vpn[touch].astype(np.int64)
    assert ((rel % 2560) + t.nr[touch].astype(np.int64) <= 2560).all()
    assert (np.diff(rel) > 0).all()
    assert set(t.order[touch].tolist()) == {0, 4, 9}


# --------------------------------------------------------------------------- random

def test_random_accesses_count_and_range():
    pages = size_to_pages("4M")
    t = random_touch("4M", accesses=5000, seed=3)
    t.validate()
    w = t.op == WRITE
    assert w.sum() == 5000 and (t.nr[w] == 1).all()
    assert (t.vpn[w] < pages).all()
    assert t.pages_touched == pages and t.pages_written == pages + 5000
    assert random_touch("4M").summary()["events_per_op"]["WRITE"] == pages
    empty = random_touch("4M", accesses=0)
    empty.validate()
    assert empty.summary()["events_per_op"] == {"TOUCH": 1, "WRITE": 0, "FREE": 1}


def test_random_write_threads_and_content():
    t = random_touch("4M", accesses=999, zero_share=0.4, nr_cpus=3, seed=8)
    t.validate()
    w = np.flatnonzero(t.op == WRITE)
    assert (t.cpu[w] == np.arange(999) % 3).all()
    # A re-write keeps the page's content class.
    touch = np.flatnonzero(t.op == TOUCH)
    holder = touch[np.searchsorted(t.vpn[touch], t.vpn[w], side="right") - 1]
    assert (t.content[w] == t.content[holder]).all()
    assert set(t.content[w].tolist()) == {DATA, ZERO}


def test_zipf_is_skewed_and_scattered():
    n = 20_000
    uni = random_touch("16M", accesses=n, dist="uniform", seed=1)
    zipf = random_touch("16M", accesses=n, dist="zipf", alpha=1.2, seed=1)
    top_uni = np.bincount(uni.vpn[uni.op == WRITE].astype(np.int64)).max()
    counts = np.bincount(zipf.vpn[zipf.op == WRITE].astype(np.int64), minlength=4096)
    assert counts.max() > 20 * top_uni
    hottest = np.argsort(counts)[-10:]
    assert hottest.max() - hottest.min() > 100  # hot pages are not one cluster at the start
    other = random_touch("16M", accesses=n, dist="zipf", seed=2)
    assert np.bincount(other.vpn[other.op == WRITE].astype(np.int64)).argmax() != counts.argmax()


# --------------------------------------------------------------------------- mixed

def test_mixed_composition():
    t = mixed("20M", seed=4)
    t.validate()
    total = size_to_pages("20M")
    sizes = [int(total * s) for s in (0.3, 0.2, 0.1, 0.2, 0.2)]
    sizes[0] += total - sum(sizes)
    assert t.pages_touched == total == pages_by(t, FREE)
    by_cpu = {c: t.cpu == c for c in range(5)}
    assert pages_by(t, WRITE, SAME) == sizes[1]                  # memhog -r2
    assert int(t.nr[by_cpu[3] & (t.op == WRITE)].sum()) == sizes[3]  # zipf: one write per page
    assert (t.nr[by_cpu[3] & (t.op == WRITE)] == 1).all()
    zero = int(t.nr[by_cpu[2] & (t.op == TOUCH) & (t.content == ZERO)].sum())
    assert abs(zero - sizes[2] // 2) <= 1
    assert set(t.order[by_cpu[4]].tolist()) >= {4, 9}
    assert (t.order[~by_cpu[4]] == 0).all()
    # The zero task exits early: its frees are done while others still write.
    early = np.flatnonzero(by_cpu[2] & (t.op == FREE))
    last_write = np.flatnonzero(t.op != FREE)[-1]
    assert early[-1] < last_write
    later = np.arange(len(t)) > early[-1]
    written_later = int(t.nr[later & (t.op != FREE)].sum())
    assert written_later > 0.3 * t.pages_written
    # The rest unmap together at the end.
    tail = t.op[last_write + 1:]
    assert (tail == FREE).all() and set(t.cpu[last_write + 1:].tolist()) == {0, 1, 3, 4}


def test_mixed_parameters():
    t = mixed("20M", mthp=None, zero_share=0.0, nr_cpus=2)
    t.validate()
    assert (t.order == 0).all() and t.summary()["zero_share"] == 0.0
    assert set(t.cpu.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="too small"):
        mixed(9 * 4096)
    with pytest.raises(ValueError, match="interleave"):
        mixed("20M", interleave=100)


# --------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("name, params", [
    ("usemem", dict(size="8M", tasks=2, mthp="4:0.5", zero_share=0.2)),
    ("memhog", dict(size="8M", passes=2, mthp="4:0.3")),
    ("random", dict(size="8M", dist="zipf", accesses=500, zero_share=0.2)),
    ("mixed", dict(size="8M")),
])
def test_deterministic_by_seed_and_regenerable_from_params(name, params):
    a = make_workload(name, seed=1, **params)
    assert a == make_workload(name, seed=1, **params)
    assert a != make_workload(name, seed=2, **params)
    assert make_workload(a.name, **a.params) == a
    assert a.params["seed"] == 1


# --------------------------------------------------------------------------- Trace

def test_trace_columns_are_read_only_and_repr_summary():
    t = usemem("2M", tasks=2)
    with pytest.raises(ValueError):
        t.vpn[0] = 5
    assert repr(t).startswith("Trace('usemem', 4 events: 2 TOUCH, 0 WRITE, 2 FREE;")
    s = t.summary()
    assert s["pages_touched"] == s["pages_written"] == s["pages_freed"] == 1024
    assert s["data_share"] == 1.0 and s["nr_pages"] == 1536
    assert len(t) == 4


def test_empty_trace():
    t = Trace.from_rows([])
    t.validate()
    assert len(t) == 0 and t.nr_pages == 0 and t.nr_cpus == 1
    assert t.summary()["data_share"] == 0.0


def columns(n=1):
    return [np.zeros(n, np.uint8), np.zeros(n, np.uint64), np.ones(n, np.uint64),
            np.zeros(n, np.uint8), np.zeros(n, np.uint8), np.zeros(n, np.uint16)]


@pytest.mark.parametrize("i, bad", [
    (0, [0]), (1, np.zeros(1, np.int64)), (2, np.ones(1, np.uint32)), (5, np.zeros(1, np.uint8)),
])
def test_trace_constructor_type_errors(i, bad):
    cols = columns()
    cols[i] = bad
    with pytest.raises(TypeError, match=wl._COLUMNS[i][0]):
        Trace(*cols)


def test_trace_constructor_shape_errors():
    cols = columns()
    cols[3] = np.zeros((1, 1), np.uint8)
    with pytest.raises(ValueError, match="one-dimensional"):
        Trace(*cols)
    cols = columns()
    cols[4] = np.zeros(2, np.uint8)
    with pytest.raises(ValueError, match="length"):
        Trace(*cols)
    for n in (0, 65):
        with pytest.raises(ValueError, match="nr_cpus"):
            Trace(*columns(), nr_cpus=n)
    with pytest.raises(ValueError, match="JSON"):
        Trace(*columns(), params={"x": object()})
    with pytest.raises(TypeError):
        Trace(*columns(), name=3)


T, W, F = TOUCH, WRITE, FREE
BAD_TRACES = [
    # (rows, nr_cpus, event index, message fragment)
    ([(T, 0, 1, 0, 0, 0), (7, 0, 1, 0, 0, 0)], None, 1, "op 7 is not one of TOUCH, WRITE"),
    ([(T, 0, 1, 0, 0, 0), (W, 0, 0, 0, 0, 0)], None, 1, "nr must be at least 1"),
    ([(T, 1 << 40, 1, 0, 0, 0)], None, 0, "below 2\\*\\*40"),
    ([(T, (1 << 40) - 1, 2, 0, 0, 0)], None, 0, "past vpn 2\\*\\*40"),
    ([(T, 0, 2048, 10, 0, 0)], None, 0, "order 10"),
    ([(T, 0, 2, 0, 0, 0), (W, 0, 2, 1, 0, 0)], None, 1, "order must be 0"),
    ([(T, 0, 2, 0, 0, 0), (F, 0, 2, 1, 0, 0)], None, 1, "order must be 0"),
    ([(T, 8, 16, 4, 0, 0)], None, 0, "multiples of 2\\*\\*order = 16"),
    ([(T, 16, 8, 4, 0, 0)], None, 0, "multiples"),
    ([(T, 0, 1, 0, 3, 0)], None, 0, "content 3"),
    ([(T, 0, 1, 0, 0, 0), (F, 0, 1, 0, ZERO, 0)], None, 1, "content must be 0 for FREE"),
    ([(T, 0, 1, 0, 0, 0), (T, 1, 1, 0, 0, 2)], 2, 1, "cpu 2"),
    ([(T, 0, 1, 0, 0, 0), (T, 1, 1, 0, 0, 64)], None, 1, "cpu 64 is not below nr_cpus=64"),
    ([(T, 0, 4, 0, 0, 0), (W, 2, 4, 0, 0, 0)], None, 1, "page 4 was never touched"),
    ([(T, 0, 4, 0, 0, 0), (F, 4, 1, 0, 0, 0)], None, 1, "page 4 was never touched"),
    ([(W, 0, 1, 0, 0, 0)], None, 0, "never touched"),
    ([(T, 0, 4, 0, 0, 0), (T, 2, 1, 0, 0, 0)], None, 1, "page 2 was already touched by event 0"),
    ([(T, 0, 4, 0, 0, 0), (W, 0, 4, 0, 0, 0), (T, 3, 2, 0, 0, 0)], None, 2,
     "page 3 was already touched by event 0"),
    ([(T, 0, 4, 0, 0, 0), (F, 0, 4, 0, 0, 0), (W, 1, 1, 0, 0, 0)], None, 2, "freed by event 1"),
    ([(T, 0, 4, 0, 0, 0), (F, 0, 4, 0, 0, 0), (T, 0, 4, 0, 0, 0)], None, 2, "fresh virtual"),
    ([(T, 0, 4, 0, 0, 0), (F, 0, 2, 0, 0, 0), (F, 0, 4, 0, 0, 0)], None, 2, "page 0 was freed"),
    ([(T, 0, 16, 4, 0, 0), (F, 4, 12, 0, 0, 0)], None, 1, "splits the order-4 folio at page 0"),
    ([(T, 0, 16, 4, 0, 0), (T, 16, 4, 2, 0, 0), (F, 0, 18, 0, 0, 0)], None, 2,
     "splits the order-2 folio at page 16 touched by event 1"),
]


@pytest.mark.parametrize("rows, nr_cpus, index, message", BAD_TRACES)
def test_validate_catches_each_rule(rows, nr_cpus, index, message):
    t = Trace.from_rows(rows, nr_cpus=nr_cpus)
    with pytest.raises(ValueError, match=f"^event {index} .*{message}"):
        t.validate()


def test_validate_reports_the_earliest_bad_event_and_accepts_good_partial_frees():
    t = Trace.from_rows([(T, 0, 8, 0, 0, 0), (T, 8, 4, 0, 0, 0), (W, 20, 1, 0, 0, 0),
                         (W, 30, 1, 0, 0, 0)])
    with pytest.raises(ValueError, match="^event 2 "):
        t.validate()
    ok = Trace.from_rows([(T, 0, 32, 4, 0, 0), (W, 3, 5, 0, SAME, 1), (F, 16, 16, 0, 0, 1),
                          (F, 0, 16, 0, 0, 0)])
    ok.validate()
    assert ok.nr_cpus == 2


def test_save_load_round_trip(tmp_path):
    for t in (usemem("4M", tasks=3, mthp="4:0.5", zero_share=0.1, seed=9),
              mixed("8M"), Trace.from_rows([], name="empty", params={"a": [1, 2]})):
        path = tmp_path / f"{t.name}.trace"
        t.save(path)
        assert path.exists() and not (tmp_path / f"{t.name}.trace.npz").exists()
        back = Trace.load(path)
        assert back == t
        assert back.params == t.params and back.nr_cpus == t.nr_cpus
        for col, dtype in wl._COLUMNS:
            assert getattr(back, col).dtype == dtype
    t = usemem("1M")
    t.save(str(tmp_path / "s.npz"))
    assert Trace.load(str(tmp_path / "s.npz")) == t


def test_load_rejects_what_is_not_a_trace(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_text("hello")
    with pytest.raises(ValueError, match="not a vswap trace"):
        Trace.load(junk)
    npy = tmp_path / "a.npy"
    np.save(npy, np.arange(3))
    with pytest.raises(ValueError, match="not a vswap trace"):
        Trace.load(npy)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(ValueError, match="no 'meta'"):
        Trace.load(other)
    t = usemem("1M")
    cols = {c: getattr(t, c) for c, _ in wl._COLUMNS}
    for meta, message in [({"format": "something"}, "not a vswap trace"),
                          ({"format": "vswap-trace", "version": 99}, "version 99"),
                          ("{not json", "bad 'meta'")]:
        path = tmp_path / "m.npz"
        text = meta if isinstance(meta, str) else json.dumps(meta)
        np.savez(path, meta=np.array(text), **cols)
        with pytest.raises(ValueError, match=message):
            Trace.load(path)
    path = tmp_path / "missing.npz"
    np.savez(path, meta=np.array(json.dumps({"format": "vswap-trace", "version": 1})), op=t.op)
    with pytest.raises(ValueError, match="missing"):
        Trace.load(path)
    path = tmp_path / "dtype.npz"
    np.savez(path, meta=np.array(json.dumps({"format": "vswap-trace", "version": 1})),
             **{**cols, "vpn": cols["vpn"].astype(np.int64)})
    with pytest.raises(ValueError, match="vpn"):
        Trace.load(path)
    # A file with the right layout but broken events fails validation on load.
    bad = Trace.from_rows([(W, 0, 1, 0, 0, 0)])
    bad.save(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="never touched"):
        Trace.load(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError):
        Trace.load(tmp_path / "absent.npz")
    assert zipfile.is_zipfile(tmp_path / "bad.npz")


# --------------------------------------------------------------------------- bad parameters

@pytest.mark.parametrize("call, error, message", [
    (lambda: usemem("0"), ValueError, "positive"),
    (lambda: usemem("5Q"), ValueError, "suffix"),
    (lambda: usemem(1.0), TypeError, "size"),
    (lambda: usemem("1M", tasks=0), ValueError, "tasks"),
    (lambda: usemem("1M", tasks=1.5), TypeError, "tasks"),
    (lambda: usemem("1M", mthp={4: 0.7, 9: 0.5}), ValueError, "sum"),
    (lambda: usemem("1M", mthp={4: -0.1}), ValueError, "share"),
    (lambda: usemem("1M", mthp={4: 1.5}), ValueError, "share"),
    (lambda: usemem("1M", mthp={0: 0.5}), ValueError, "order 0"),
    (lambda: usemem("1M", mthp={10: 0.5}), ValueError, "order 10"),
    (lambda: usemem("1M", mthp={"4": 0.5}), TypeError, "order"),
    (lambda: usemem("1M", mthp="4=0.5"), ValueError, "order:share"),
    (lambda: usemem("1M", mthp="4:x"), ValueError, "order:share"),
    (lambda: usemem("1M", mthp="4:0.2,4:0.3"), ValueError, "twice"),
    (lambda: usemem("1M", mthp=[(4, 0.5)]), TypeError, "mthp"),
    (lambda: usemem("1M", zero_share=1.5), ValueError, "zero_share"),
    (lambda: usemem("1M", zero_share=-0.1), ValueError, "zero_share"),
    (lambda: usemem("1M", zero_share="0.1"), TypeError, "zero_share"),
    (lambda: usemem("1M", nr_cpus=0), ValueError, "nr_cpus"),
    (lambda: usemem("1M", nr_cpus=65), ValueError, "nr_cpus"),
    (lambda: usemem("1M", interleave=0), ValueError, "interleave"),
    (lambda: usemem("4M", tasks=2, mthp={9: 0.5}, interleave=256), ValueError, "multiple"),
    (lambda: usemem("1M", seed=-1), ValueError, "seed"),
    (lambda: usemem("1M", seed="a"), TypeError, "seed"),
    (lambda: usemem("1024T", tasks=5), ValueError, "2\\*\\*40"),
    (lambda: memhog("1M", passes=0), ValueError, "passes"),
    (lambda: memhog("8192T"), ValueError, "2\\*\\*40"),
    (lambda: memhog("1M", nr_cpus=100), ValueError, "nr_cpus"),
    (lambda: memhog("", passes=1), ValueError, "size"),
    (lambda: random_touch("1M", dist="pareto"), ValueError, "dist"),
    (lambda: random_touch("1M", dist="zipf", alpha=1.0), ValueError, "alpha"),
    (lambda: random_touch("1M", dist="zipf", alpha=0.5), ValueError, "alpha"),
    (lambda: random_touch("1M", dist="zipf", alpha="2"), TypeError, "alpha"),
    (lambda: random_touch("1M", accesses=-1), ValueError, "accesses"),
    (lambda: random_touch("1M", accesses=2.0), TypeError, "accesses"),
    (lambda: mixed("1M", alpha=1.0), ValueError, "alpha"),
    (lambda: mixed("1M", zero_share=2), ValueError, "zero_share"),
])
def test_bad_parameters(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_uniform_ignores_alpha():
    random_touch("1M", dist="uniform", alpha=0.5).validate()


def test_make_workload():
    assert set(wl.WORKLOADS) == {"usemem", "memhog", "random", "mixed", "fork", "kbuild",
                                 "mthp_churn"}
    with pytest.raises(ValueError, match="unknown workload 'usemen'.*usemem, memhog, random"):
        make_workload("usemen", size="1M")
    with pytest.raises(ValueError, match="memhog does not take tasks, zero_share; it takes: size, "
                                         "passes, mthp, nr_cpus, seed"):
        make_workload("memhog", size="1M", tasks=2, zero_share=0.1)
    with pytest.raises(ValueError, match="needs a size"):
        make_workload("usemem")
    t = make_workload("random", size="1M", accesses=10)
    assert t.name == "random" and t.summary()["events_per_op"]["WRITE"] == 10


def test_every_public_name_documents_complexity_and_an_example():
    import inspect
    missing = []
    for name in wl.__all__:
        obj = getattr(wl, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        members = [(name, obj)]
        if inspect.isclass(obj):
            members += [(f"{name}.{m}", v.fget if isinstance(v, property) else
                         getattr(v, "__func__", v)) for m, v in vars(obj).items()
                        if (not m.startswith("_") or m in ("__len__", "__repr__", "__eq__"))
                        and (callable(v) or isinstance(v, (property, classmethod)))]
        for qual, member in members:
            doc = member.__doc__ or ""
            if "Runtime complexity:" not in doc or ">>>" not in doc:
                missing.append(qual)
    assert not missing


# --------------------------------------------------------------------------- every trace is valid

mix_strategy = st.one_of(
    st.none(),
    st.dictionaries(st.integers(1, 9), st.floats(0, 0.3), max_size=3),
)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["usemem", "memhog", "random", "mixed"]),
       pages=st.integers(10, 3000), mthp=mix_strategy, zero_share=st.floats(0, 1),
       tasks=st.integers(1, 4), repeat=st.integers(1, 3), dist=st.sampled_from(["uniform", "zipf"]),
       accesses=st.integers(0, 300), nr_cpus=st.integers(1, 64), seed=st.integers(0, 2**32),
       interleave=st.sampled_from([512, 1024, 1536]))
def test_generated_traces_always_validate(name, pages, mthp, zero_share, tasks, repeat, dist,
                                          accesses, nr_cpus, seed, interleave):
    size = pages * 4096
    if name == "usemem":
        t = usemem(size, tasks=tasks, mthp=mthp, zero_share=zero_share, nr_cpus=nr_cpus,
                   interleave=interleave, seed=seed)
        assert t.pages_touched == tasks * pages == pages_by(t, FREE)
    elif name == "memhog":
        t = memhog(size, passes=repeat, mthp=mthp, nr_cpus=nr_cpus, seed=seed)
        assert t.pages_written == repeat * pages
    elif name == "random":
        t = random_touch(size, accesses=accesses, dist=dist, mthp=mthp, zero_share=zero_share,
                         nr_cpus=nr_cpus, seed=seed)
        assert (t.op == WRITE).sum() == accesses
    else:
        t = mixed(size, mthp=mthp, zero_share=zero_share, nr_cpus=nr_cpus,
                  interleave=interleave, seed=seed)
        assert t.pages_touched == pages == pages_by(t, FREE)
    t.validate()
    assert t.nr_cpus == nr_cpus
    assert make_workload(t.name, **t.params) == t


def test_mthp_by_folio_size():
    assert usemem("4M", mthp="64K:0.5,2M:0.25") == usemem("4M", mthp="4:0.5,9:0.25")
    assert memhog("4M", mthp="8k:1").params["mthp"] == "1:1.0"
    for bad, why in (("3K:0.5", "power-of-two"), ("4K:0.5", "above one"), ("4M:0.5", "outside"),
                     ("64Q:0.5", "is not"), ("12K:0.1", "power-of-two")):
        with pytest.raises(ValueError, match=why):
            usemem("4M", mthp=bad)


def test_p_and_e_size_suffixes():
    assert wl.parse_size("1P") == 1 << 50 and wl.parse_size("2e") == 2 << 60
    assert wl.size_to_pages("1P") == 1 << 38


def test_a_registered_workload_is_known_to_compare_kernel_sweep_and_the_cli(capsys):
    # One record, read everywhere: a workload missing from one of several tables
    # once failed with a KeyError.
    from vswap.benchmark import compare, default_machine
    from vswap.cli import build_parser
    from vswap.kernel.plan import DEFAULT_SIZES as KERNEL_SIZES
    from vswap.sweeps import sweep
    from vswap.workload_registry import register_workload, unregister_workload, workload_record

    register_workload("memhog2", lambda size, **kw: memhog(size, passes=2, **kw),
                      default_size="2M", kernel_size="1M", ram_share=(1, 4), tput_credit=2.0)
    try:
        t = make_workload("memhog2", size="2M")
        assert default_machine(t).ram_pages == t.pages_touched // 4
        r = compare("memhog2", repeat=1, progress=False, designs="baseline")
        assert r.params["size"] == "2M" and r.rows[0]["pswpin"] > 0
        assert build_parser().parse_args(["compare", "memhog2"]).workload == "memhog2"
        res = sweep({"workload": ["memhog2"], "design": ["baseline"]}, jobs=1, progress=False)
        assert not res.failed
    finally:
        unregister_workload("memhog2")
    with pytest.raises(ValueError, match="unknown workload 'memhog2'"):
        workload_record("memhog2")
