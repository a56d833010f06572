"""Throughput, memory and quality of a full dedupe ingest against the benchmark kit's
baselines and peers, on the same generated corpus, in one run.

usage: python bench/run.py [--sizes 1000,10000,100000] [--base ../shared/data/reuters21578]
                           [--scratch /tmp/dedupe-bench] [--kit ../shared/bench]
                           [--td-python PATH] [--dt-python PATH] [--peer-sizes 1000,10000]
                           [--batch-size 2000] [--workers N] [--baselines exact,np_fast]
                           [--no-quality] [--quality-every K] [--keep-store]
                           [--no-ingest] [--out FILE]

For each size N: the corpus is made once with the kit's ``gen_corpus.py`` (``--seed 1``;
Reuters-21578 with ``--base``) and kept under ``--scratch/corpora``, never in the repository.
Then, each as its own process under the kit's ``measure.py`` (wall time, CPU seconds and the
peak RSS of the whole process tree, workers included):

* ``dedupe``: the full ingest into a fresh store file (read the JSON Lines, segment,
  fingerprint, index, classify, store everything), ``Tracker.stream``;
* ``exact``: the kit's exact-hash ceiling (``baselines.py exact``);
* ``np_fast``: the kit's in-memory numpy MinHash + LSH (``baselines.py np_fast``);
* ``text-dedup`` and ``datatrove`` (MinHash) when their interpreters are given, through the
  kit's peer scripts (their sentence-per-row preparation counts in their time).

Throughput is the ground truth's sentence count (the same for every method) over wall time.
Quality is scored on the same store: each article's cuts with ``strip_reused`` (boilerplate,
repeats, and text another outlet published earlier) become per-sentence flags (a sentence is
flagged when cuts cover more than half of it), scored by the kit's ``eval.py``. With
``--quality-every K`` only every K-th article (file order) is judged and scored: the kit's
per-sentence scores on those articles' sentences, without its group scores, which need every
member of a group. ``--keep-store`` keeps the store; ``--no-ingest`` then scores it again
(never deleting it) without ingesting. The table goes to stdout, every figure to ``--out``
(JSON).
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


# -- the measured child processes ----------------------------------------------------------


def _read_corpus(path: str):  # noqa: ANN202 - a generator of Articles
    import datetime as dt

    from dedupe import Article

    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            published = None
            if rec.get("published"):
                published = dt.datetime.fromisoformat(rec["published"])
                if published.tzinfo is None:
                    published = published.replace(tzinfo=dt.timezone.utc)
            yield Article(
                id=str(rec["id"]),
                text=rec["text"],
                url=rec.get("url"),
                outlet=rec.get("outlet"),
                published=published,
                title=rec.get("title"),
            )


def child_ingest(
    corpus: str, db: str, batch_size: int, workers: int | None, index_memory: str | None
) -> None:
    """Ingest the corpus into a fresh store; print one JSON line."""
    sys.path.insert(0, str(ROOT))
    from dedupe import Tracker

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    t0 = time.perf_counter()
    kw: dict[str, Any] = {}
    if index_memory is not None:
        kw["index_memory"] = None if index_memory == "none" else float(index_memory)
    with Tracker(db, workers=workers, **kw) as t:
        n = sum(1 for _ in t.stream(_read_corpus(corpus), batch_size=batch_size))
        wall = time.perf_counter() - t0
        segments = t.store.conn.execute("SELECT COUNT(*) FROM segments").fetchone()[0]
        timings = {k: round(v, 3) for k, v in sorted(t.timings.items())}
        params = t.params.as_dict()
        on_disk = sum(r.n for r in t.index._runs.values() if r.entries is None)
    print(
        json.dumps(
            {
                "articles": n,
                "segments": segments,
                "ingest_s": round(wall, 3),
                "store_mb": round(os.path.getsize(db) / 1e6, 1),
                "timings": timings,
                "params": params,
                "index_items_on_disk": on_disk,
            }
        )
    )


def child_quality(db: str, gt_path: str, flags_out: str, every: str = "1") -> None:
    """Per-sentence flags from the store's cuts (``strip_reused``), in ground-truth order, of
    every ``every``-th article (file order); with ``every`` > 1, which sentences were scored
    goes beside the flags (``*.scored.npy``)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from dedupe import Tracker

    step = int(every)
    gt = json.load(open(gt_path, encoding="utf-8"))
    ids = list(gt["articles"])
    chosen = set(ids[::step])
    t0 = time.perf_counter()
    removed: dict[str, list[tuple[int, int]]] = {}
    with Tracker(db, strip_reused=True, workers=0) as t:
        for r in t.results(ids[::step]):
            removed[r.article.id] = [(c.start, c.end) for c in r.removed]
    flags: list[int] = []
    scored: list[bool] = []
    for aid in ids:
        cuts = removed.get(aid, [])
        spans = gt["articles"][aid]["spans"]
        for s, e in spans:
            covered = sum(max(0, min(e, b) - max(s, a)) for a, b in cuts)
            flags.append(1 if covered * 2 > e - s else 0)
        scored += [aid in chosen] * len(spans)
    np.save(flags_out, np.array(flags, dtype=np.uint8))
    if step > 1:
        np.save(_scored_path(flags_out), np.array(scored, dtype=bool))
    print(
        json.dumps(
            {
                "results_s": round(time.perf_counter() - t0, 3),
                "sentences": len(flags),
                "scored_articles": len(chosen),
                "scored_sentences": int(sum(scored)),
            }
        )
    )


def _scored_path(flags: str | Path) -> Path:
    return Path(str(flags)[: -len(".npy")] + ".scored.npy")


# -- the parent: corpora, measurements, the table --------------------------------------------


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, text=True, capture_output=True, **kw)


def last_json(out: str) -> dict[str, Any]:
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return {}


def measured(
    kit: Path, label: str, cmd: list[str], env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``cmd`` under the kit's measure.py; its JSON line (and the command's own)."""
    p = run([sys.executable, str(kit / "measure.py"), "--label", label, "--", *cmd], env=env)
    res = last_json(p.stdout)
    if p.returncode != 0 or not res:
        res = {**res, "error": (p.stderr or p.stdout)[-2000:]}
    return res


def corpus_for(args: argparse.Namespace, n: int) -> tuple[Path, Path]:
    tag = "reuters" if args.base else "news"
    d = Path(args.scratch) / "corpora"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{tag}_{n}.jsonl"
    gt = d / f"{tag}_{n}.gt.json"
    if not (path.exists() and gt.exists()):
        cmd = [
            sys.executable,
            str(Path(args.kit) / "gen_corpus.py"),
            "--articles",
            str(n),
            "--seed",
            str(args.seed),
            "--out",
            str(path),
            "--cache-dir",
            str(Path(args.scratch) / "cache"),
        ]
        if args.base:
            cmd += ["--base", args.base]
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        p = run(cmd)
        if p.returncode != 0:
            raise SystemExit(f"gen_corpus.py failed:\n{p.stderr[-2000:]}")
    return path, gt


def gt_sentences(gt: Path) -> int:
    """The ground truth's sentence count (read from its head: the file is large)."""
    import re

    with open(gt, encoding="utf-8") as fh:
        m = re.search(r'"n_sentences":\s*(\d+)', fh.read(1 << 16))
    if m:
        return int(m.group(1))
    return int(json.load(open(gt, encoding="utf-8"))["n_sentences"])


def score(kit: Path, gt: Path, flags: Path) -> dict[str, Any]:
    p = run([sys.executable, str(kit / "eval.py"), str(gt), str(flags)])
    res = last_json(p.stdout)
    if not res:
        return {"error": p.stderr[-2000:]}
    # eval.py counts the first occurrence of every boilerplate line as one to keep; a tool that
    # strips furniture everywhere loses those. The content precision leaves them out: flags
    # on original content (kind "o") are the only false positives it counts.
    return _with_content_precision(res)


def _with_content_precision(res: dict[str, Any]) -> dict[str, Any]:
    tp, fp_o = res.get("tp", 0), res.get("fp_on_originals", 0)
    res["content_precision"] = round(tp / (tp + fp_o), 5) if tp + fp_o else 1.0
    return res


def score_sample(kit: Path, gt: Path, flags: Path) -> dict[str, Any]:
    """The kit's per-sentence scores on the sentences of the sampled articles only (see
    ``--quality-every``). Its group scores need every member of a group, so they are left
    out."""
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("kit_eval", kit / "eval.py")
    if spec is None or spec.loader is None:
        return {"error": f"cannot load {kit / 'eval.py'}"}
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)
    truth, kinds, _ = ev.gt_flags(str(gt))
    pred = np.load(flags).astype(bool)
    m = np.load(_scored_path(flags))
    if not (len(pred) == len(m) == len(truth)):
        return {"error": f"{len(pred)} flags, {len(m)} marks, {len(truth)} sentences"}
    return _with_content_precision(dict(file=str(flags), **ev.score(truth[m], kinds[m], pred[m])))


def _said(n: int, r: dict[str, Any], sentences: int) -> None:
    """One method's figures on stderr as soon as it is done (a long run shows them early)."""
    wall = r.get("wall_s_outer")
    if wall and not r.get("error") and not r.get("rc"):
        print(
            f"[{n}] {r.get('label')}: {sentences / wall:,.0f} sentences/s, {wall:,.1f} s,"
            f" peak {r.get('peak_tree_rss_mb', 0):,.0f} MB",
            file=sys.stderr,
            flush=True,
        )


def bench_size(args: argparse.Namespace, n: int) -> dict[str, Any]:
    kit = Path(args.kit)
    corpus, gt = corpus_for(args, n)
    scratch = Path(args.scratch)
    work = scratch / "work"
    work.mkdir(parents=True, exist_ok=True)
    tag = corpus.stem
    sentences = gt_sentences(gt)
    mb = os.path.getsize(corpus) / 1e6
    out: dict[str, Any] = {
        "articles": n,
        "corpus": str(corpus),
        "sentences": sentences,
        "mb": round(mb, 1),
    }
    methods: dict[str, dict[str, Any]] = {}

    db = work / f"{tag}.db"
    if args.no_ingest:
        if not db.exists():
            raise SystemExit(f"{db}: no store to score; run this size once with --keep-store first")
        out["methods"] = {}
        if args.quality:
            out["quality"] = quality(args, n, kit, db, gt, work / f"{tag}.flags.npy")
        return out
    cmd = [sys.executable, str(HERE / "run.py"), "--_ingest", str(corpus), str(db)]
    cmd += ["--batch-size", str(args.batch_size)]
    if args.workers is not None:
        cmd += ["--workers", str(args.workers)]
    if args.index_memory is not None:
        cmd += ["--index-memory", args.index_memory]
    print(f"[{n}] dedupe ingest ...", file=sys.stderr, flush=True)
    methods["dedupe"] = measured(kit, "dedupe", cmd)
    _said(n, methods["dedupe"], sentences)
    for base in ("exact", "np_fast"):
        if base in args.baselines:
            print(f"[{n}] {base} ...", file=sys.stderr, flush=True)
            methods[base] = measured(
                kit, base, [sys.executable, str(kit / "baselines.py"), base, str(corpus)]
            )
            _said(n, methods[base], sentences)
    peers_here = n in args.peer_sizes
    if peers_here and (args.td_python or args.dt_python):
        sent_dir = work / f"{tag}_sentences"
        shutil.rmtree(sent_dir, ignore_errors=True)
        prep = run(
            [
                sys.executable,
                str(kit / "peers" / "make_sentences.py"),
                str(corpus),
                str(sent_dir),
                "--shards",
                "2",
            ]
        )
        prep_s = last_json(prep.stdout).get("wall_s", 0.0)
        if args.td_python:
            print(f"[{n}] text-dedup ...", file=sys.stderr, flush=True)
            env = dict(os.environ, TD_PY=args.td_python, HF_HOME=str(scratch / "hf"))
            prefix = work / f"td_{tag}"
            r = measured(
                kit,
                "text-dedup",
                [
                    "bash",
                    str(kit / "peers" / "run_textdedup.sh"),
                    str(sent_dir),
                    str(prefix),
                    "0.7",
                ],
                env=env,
            )
            r["prep_s"] = prep_s
            methods["text-dedup"] = r
        if args.dt_python:
            print(f"[{n}] datatrove ...", file=sys.stderr, flush=True)
            r = measured(
                kit,
                "datatrove",
                [
                    args.dt_python,
                    str(kit / "peers" / "run_datatrove.py"),
                    "minhash",
                    str(sent_dir),
                    str(work / f"dt_{tag}"),
                    str(work / f"dt_{tag}.npy"),
                    "--workers",
                    "2",
                ],
            )
            r["prep_s"] = prep_s
            methods["datatrove"] = r
        shutil.rmtree(sent_dir, ignore_errors=True)
        shutil.rmtree(work / f"dt_{tag}", ignore_errors=True)

    for r in methods.values():
        wall = r.get("wall_s_outer")
        if wall and not r.get("error") and not r.get("rc"):  # a failed run has no throughput
            wall += r.get("prep_s", 0.0)  # peers: their sentence-per-row preparation counts
            r["wall_s"] = round(wall, 3)
            r["sentences_per_s"] = round(sentences / wall, 1)
            r["mb_per_s"] = round(mb / wall, 2)
    base = methods["dedupe"].get("sentences_per_s")
    for r in methods.values():
        if base and r.get("sentences_per_s"):
            # >1: dedupe is that many times faster than this method
            r["dedupe_speedup"] = round(base / r["sentences_per_s"], 2)
    out["methods"] = methods

    if args.quality and "error" not in methods["dedupe"]:
        out["quality"] = quality(args, n, kit, db, gt, work / f"{tag}.flags.npy")
    if not args.keep_store:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    return out


def quality(
    args: argparse.Namespace, n: int, kit: Path, db: Path, gt: Path, flags: Path
) -> dict[str, Any]:
    """Score the store's cuts against the ground truth (a sample with ``--quality-every``)."""
    every = args.quality_every
    print(
        f"[{n}] quality{f' (every {every}th article)' if every > 1 else ''} ...",
        file=sys.stderr,
        flush=True,
    )
    cmd = [sys.executable, str(HERE / "run.py"), "--_quality", str(db), str(gt), str(flags)]
    p = run([*cmd, str(every)])
    q = last_json(p.stdout)
    if p.returncode != 0:
        return {"error": p.stderr[-2000:]}
    q["every"] = every
    q.update(score(kit, gt, flags) if every == 1 else score_sample(kit, gt, flags))
    return q


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| articles | method | sentences/s | MB/s | wall s | CPU s | peak RSS MB | dedupe x faster |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for name, r in res["methods"].items():
            if "error" in r:
                lines.append(f"| {res['articles']} | {name} | error | | | | | |")
                continue
            lines.append(
                f"| {res['articles']} | {name} | {r.get('sentences_per_s', 0):,.0f} |"
                f" {r.get('mb_per_s', 0):.2f} | {r.get('wall_s', 0):.1f} |"
                f" {r.get('cpu_tree_s', 0):.1f} | {r.get('peak_tree_rss_mb', 0):,.0f} |"
                f" {r.get('dedupe_speedup', '')} |"
            )
    lines += [
        "",
        "| articles | precision | content precision | recall | recall near (n) | recall exact (e)"
        " | recall boilerplate (b) | originals flagged | g_f1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        q = res.get("quality")
        if not q or "error" in q:
            continue
        every = q.get("every", 1)
        sample = f" (every {every}th article)" if every > 1 else ""
        lines.append(
            f"| {res['articles']}{sample} | {q.get('precision')} | {q.get('content_precision')} |"
            f" {q.get('recall')} | {q.get('recall_n')} | {q.get('recall_e')} | {q.get('recall_b')} |"
            f" {q.get('fp_on_originals')} | {q.get('g_f1', '')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_ingest":
        ap = argparse.ArgumentParser()
        ap.add_argument("corpus")
        ap.add_argument("db")
        ap.add_argument("--batch-size", type=int, default=2000)
        ap.add_argument("--workers", type=int, default=None)
        ap.add_argument("--index-memory", default=None)
        a = ap.parse_args(argv[1:])
        child_ingest(a.corpus, a.db, a.batch_size, a.workers, a.index_memory)
        return 0
    if argv and argv[0] == "--_quality":
        child_quality(*argv[1:5])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--base", default=None, help="real news base for gen_corpus.py (Reuters-21578)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scratch", default="/tmp/dedupe-bench")
    ap.add_argument(
        "--kit", default=str(DEFAULT_KIT), help="the benchmark kit (gen_corpus.py, ...)"
    )
    ap.add_argument("--td-python", default=None, help="python of a venv with text-dedup")
    ap.add_argument("--dt-python", default=None, help="python of a venv with datatrove")
    ap.add_argument("--peer-sizes", default="1000,10000", help="sizes the peers run at")
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=None, help="dedupe worker processes")
    ap.add_argument(
        "--index-memory",
        default=None,
        help="MB of LSH index held in memory ('none': no limit; default: the Tracker's)",
    )
    ap.add_argument(
        "--baselines", default="exact,np_fast", help="the kit's baselines to run (or none)"
    )
    ap.add_argument("--no-quality", dest="quality", action="store_false")
    ap.add_argument(
        "--quality-every",
        type=int,
        default=1,
        metavar="K",
        help="score every K-th article only (per-sentence scores, no group scores)",
    )
    ap.add_argument("--keep-store", action="store_true")
    ap.add_argument(
        "--no-ingest",
        action="store_true",
        help="only score the store a --keep-store run left under SCRATCH/work",
    )
    ap.add_argument("--out", default=None, help="JSON results (default SCRATCH/results.json)")
    args = ap.parse_args(argv)
    if args.quality_every < 1:
        ap.error(f"--quality-every must be 1 or more, not {args.quality_every}")
    if args.no_ingest and not args.quality:
        ap.error("--no-ingest with --no-quality leaves nothing to do")
    args.peer_sizes = {int(x) for x in args.peer_sizes.split(",") if x}
    args.baselines = {x for x in args.baselines.split(",") if x and x != "none"}
    sizes = [int(x) for x in args.sizes.split(",") if x]
    out = Path(args.out or Path(args.scratch) / "results.json")
    results: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    for n in sizes:
        results.append(bench_size(args, n))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {
                    "started": started,
                    "loadavg": os.getloadavg(),
                    "cpus": os.cpu_count(),
                    "results": results,
                },
                indent=1,
            )
        )
    print(table(results))
    print(f"\nresults: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
