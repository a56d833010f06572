"""Latency of ``Tracker.add`` with one article at a time, into stores of 10k and 100k articles.

usage: python bench/latency.py [--sizes 10000,100000] [--adds 300] [--base DIR]
                               [--scratch /tmp/dedupe-bench] [--kit ../shared/bench] [--out FILE]

For each size N, the kit's corpus of N articles (made by ``bench/run.py`` or here) is split:
the first N - ``adds`` articles are ingested in bulk into a store kept under ``--scratch``
(built once, reused while the parameters are the same), then a copy of that store gets the
last ``adds`` articles one ``Tracker.add`` call each (every call its own transaction):

* ``p50`` / ``p99`` / ``max`` of those calls, after the first one;
* ``first_add_s``: the first add of an opened tracker (it reads the LSH index);
* ``reopen_first_add_s``: in a fresh process, ``Tracker(path)`` on the store plus the first
  ``add``; ``process_s`` is the same with the interpreter start and the imports included.

The store is a file on the local disk, as the command line uses it; results go to stdout
and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_KIT = (ROOT / ".." / "shared" / "bench").resolve()


def _articles(corpus: Path, skip: int, take: int | None) -> list[Any]:
    sys.path.insert(0, str(HERE))
    from run import _read_corpus

    out = []
    for k, a in enumerate(_read_corpus(str(corpus))):
        if k < skip:
            continue
        if take is not None and len(out) >= take:
            break
        out.append(a)
    return out


def build_base(corpus: Path, db: Path, n_base: int) -> float:
    sys.path.insert(0, str(ROOT))
    from dedupe import Tracker

    marker = db.with_suffix(".json")
    from dedupe.fingerprint import Params

    want = {"articles": n_base, "corpus": str(corpus), "params": Params().as_dict()}
    if db.exists() and marker.exists() and json.loads(marker.read_text()) == want:
        return 0.0
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    with Tracker(db) as t:
        for _ in t.stream(_articles(corpus, 0, n_base), batch_size=2000):
            pass
        t.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    marker.write_text(json.dumps(want))
    return time.perf_counter() - t0


def child_adds(db: str, corpus: str, skip: int, adds: int) -> None:
    sys.path.insert(0, str(ROOT))
    from dedupe import Tracker

    arts = _articles(Path(corpus), skip, adds)
    times = []
    with Tracker(db) as t:
        for a in arts:
            t0 = time.perf_counter()
            t.add(a)
            times.append(time.perf_counter() - t0)
    first, rest = times[0], sorted(times[1:])

    def q(p: float) -> float:
        return rest[min(len(rest) - 1, int(p * len(rest)))] if rest else first

    print(
        json.dumps(
            {
                "adds": len(times),
                "first_add_s": round(first, 4),
                "p50_ms": round(q(0.50) * 1000, 2),
                "p90_ms": round(q(0.90) * 1000, 2),
                "p99_ms": round(q(0.99) * 1000, 2),
                "max_ms": round(rest[-1] * 1000, 2) if rest else None,
                "mean_ms": round(sum(rest) / len(rest) * 1000, 2) if rest else None,
            }
        )
    )


def child_reopen(db: str, corpus: str, skip: int, started: float) -> None:
    t_imp = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from dedupe import Tracker

    (article,) = _articles(Path(corpus), skip, 1)
    t0 = time.perf_counter()
    with Tracker(db) as t:
        t1 = time.perf_counter()
        t.add(article)
        t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": round(t0 - t_imp, 3),
                "open_s": round(t1 - t0, 3),
                "first_add_s": round(t2 - t1, 3),
                "reopen_first_add_s": round(t2 - t0, 3),
                "process_s": round(t2 - started, 3),
            }
        )
    )


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_adds":
        child_adds(argv[1], argv[2], int(argv[3]), int(argv[4]))
        return 0
    if argv and argv[0] == "--_reopen":
        child_reopen(argv[1], argv[2], int(argv[3]), float(argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--adds", type=int, default=300)
    ap.add_argument("--base", default=None, help="real news base for gen_corpus.py (Reuters-21578)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scratch", default="/tmp/dedupe-bench")
    ap.add_argument("--kit", default=str(DEFAULT_KIT))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from run import corpus_for

    results = []
    for n in [int(x) for x in args.sizes.split(",") if x]:
        corpus, _gt = corpus_for(args, n)
        d = Path(args.scratch) / "latency"
        d.mkdir(parents=True, exist_ok=True)
        base = d / f"{corpus.stem}_base.db"
        n_base = n - args.adds
        print(f"[{n}] base store of {n_base} articles ...", file=sys.stderr, flush=True)
        built = build_base(corpus, base, n_base)
        work = d / f"{corpus.stem}_work.db"
        res: dict[str, Any] = {
            "articles": n,
            "base_articles": n_base,
            "base_build_s": round(built, 1),
        }
        for step in ("adds", "reopen"):
            for suffix in ("-wal", "-shm"):
                Path(str(work) + suffix).unlink(missing_ok=True)
            shutil.copyfile(base, work)
            cmd = [
                sys.executable,
                str(HERE / "latency.py"),
                f"--_{step}",
                str(work),
                str(corpus),
                str(n_base),
            ]
            cmd += [str(args.adds)] if step == "adds" else [repr(time.perf_counter())]
            if step == "reopen":
                # the child measures from this clock: perf_counter is system-wide on Linux
                cmd[-1] = repr(time.perf_counter())
            p = subprocess.run(cmd, text=True, capture_output=True)
            out = _last_json(p.stdout)
            if p.returncode != 0 or not out:
                out = {"error": p.stderr[-2000:]}
            res[step] = out
        for suffix in ("", "-wal", "-shm"):
            Path(str(work) + suffix).unlink(missing_ok=True)
        results.append(res)
        print(json.dumps(res), flush=True)
    out = Path(args.out or Path(args.scratch) / "latency.json")
    out.write_text(json.dumps({"loadavg": os.getloadavg(), "results": results}, indent=1))
    print(
        "\n| store articles | add p50 ms | add p99 ms | add max ms | first add s |"
        " reopen + first add s | same, new process s |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        a, o = r.get("adds", {}), r.get("reopen", {})
        print(
            f"| {r['articles']} | {a.get('p50_ms')} | {a.get('p99_ms')} | {a.get('max_ms')} |"
            f" {a.get('first_add_s')} | {o.get('reopen_first_add_s')} | {o.get('process_s')} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
