"""The real ``newscrawl extract`` command (a subprocess) on a batch of saved pages: a manifest
and FILE=URL arguments give each page its URL, pages run in worker processes (--jobs 2) and
come out in input order; a missing file, an empty page, a page over the time limit and a page
whose worker is killed each give their error record while the others come out."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..hostile_web import article_page, paragraphs

#: about 3.5 s of CPU (13 MB, over the default --max-size): well past the worker's warm-up plus
#: a small page, and past a 1.5 s limit, however fast the machine (a 5 MB page took 1.47 s)
SLOWER_PAGE = article_page("slow", ["Many words in a paragraph here. " * 40] * 10000)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", "extract", *args]


def records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def save(folder: Path, name: str, html: str) -> Path:
    path = folder / name
    path.write_text(html, encoding="utf-8")
    return path


OUTLET = (
    'id = "ex"\nname = "Ex"\nhomepage = "https://ex.example/"\nlanguage = "en"\n'
    'allowed_domains = ["ex.example"]\n'
    '[[sources]]\nkind = "rss"\nurl = "https://ex.example/rss"\n'
    '[extraction]\ndrop_line_patterns = ["^Sponsored: .*$"]\n'
)


def test_a_manifest_batch_in_two_workers_keeps_order_urls_and_failures(tmp_path: Path) -> None:
    (tmp_path / "outlets").mkdir()
    (tmp_path / "outlets" / "ex.toml").write_text(OUTLET)
    para = "A sentence of real reporting that belongs in the corpus. " * 6
    sponsored = save(
        tmp_path,
        "sponsored.html",
        f"<html><body><article><p>{para}</p><p>Sponsored: buy things</p><p>{para}</p>"
        "</article></body></html>",
    )
    pages = [
        save(tmp_path, f"story={n}.html", article_page(f"Headline {n}", paragraphs(n)))
        for n in range(5)
    ]
    empty = save(tmp_path, "empty.html", "<html><body><nav>Home</nav></body></html>")
    dated = "https://news.example.org/2021/03/04/budget-story"  # htmldate reads the URL's date
    manifest = [
        {"file": str(pages[0]), "url": dated},
        {"file": str(tmp_path / "missing.html"), "url": "https://news.example.org/gone"},
        {"file": str(pages[1])},
        {"file": str(empty), "url": "https://news.example.org/empty"},
        {"file": str(pages[2]), "url": "https://news.example.org/2019/11/18/other"},
        {"file": str(pages[3]), "url": "https://news.example.org/undated"},
        # a line's outlet: its extraction hints apply to that line's page only
        {"file": str(sponsored), "url": "https://ex.example/a", "outlet": "ex"},
        {"file": str(sponsored), "url": "https://ex.example/a"},
    ]
    (tmp_path / "pages.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest))
    # a FILE=URL argument comes before the manifest's pages
    first = f"{pages[4]}=https://news.example.org/2020/07/01/first"
    done = subprocess.run(
        command(
            first,
            "--manifest",
            str(tmp_path / "pages.jsonl"),
            "--jobs",
            "2",
            "--outlets-dir",
            "outlets",
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr  # some pages failed
    got = records(done.stdout)
    assert [r["file"] for r in got] == [str(pages[4])] + [m["file"] for m in manifest]
    assert [r["url"] for r in got] == [
        "https://news.example.org/2020/07/01/first",
        *(m.get("url") for m in manifest),
    ]
    errors = [r.get("error") for r in got]
    assert errors[:4] == [None, None, "unreadable", None] and errors[5:] == [None] * 4
    assert errors[4] in {"extraction_empty", "text_too_short"}  # the nav's one word, or none
    for r, n in zip([got[0], got[1], got[3], got[5], got[6]], [4, 0, 1, 2, 3], strict=True):
        assert f"Story {n} paragraph 0" in r["text"] and r["title"] == f"Headline {n}"
    # the URL is what the extraction was told: the pages say no date, their URLs do
    assert got[0]["date"].startswith("2020-07-01")
    assert got[1]["date"].startswith("2021-03-04")
    assert got[5]["date"].startswith("2019-11-18")
    assert got[3]["date"] is None and got[6]["date"] is None
    assert got[7]["outlet"] == "ex" and "Sponsored" not in got[7]["text"]
    assert "outlet" not in got[8] and "Sponsored: buy things" in got[8]["text"]
    assert got[7]["text"].count("real reporting") == got[8]["text"].count("real reporting") > 0


def test_a_page_over_the_time_limit_costs_only_itself(tmp_path: Path) -> None:
    slow = save(tmp_path, "slow.html", SLOWER_PAGE)
    good = [
        save(tmp_path, f"p{n}.html", article_page(f"Headline {n}", paragraphs(n))) for n in range(3)
    ]
    started = time.monotonic()
    done = subprocess.run(
        command(
            str(slow), *map(str, good), "--jobs", "2", "--timeout", "1.5", "--max-size", "20000000"
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    got = records(done.stdout)
    assert [r["file"] for r in got] == [str(slow), *map(str, good)]
    assert got[0]["error"] == "extraction_timeout" and got[0]["detail"] == "over 1.5 s"
    assert all(f"Story {n} paragraph 0" in r["text"] for n, r in enumerate(got[1:]))
    assert time.monotonic() - started < 60


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_killed_worker_costs_only_its_page(tmp_path: Path) -> None:
    """One worker (--jobs 1), the slow page first: once the worker has spent longer on it than
    any small page takes, it is killed as the OOM killer would; that page is extraction_crashed
    and the pages after it come out of the pool's new worker."""
    slow = save(tmp_path, "slow.html", SLOWER_PAGE)
    good = [
        save(tmp_path, f"p{n}.html", article_page(f"Headline {n}", paragraphs(n))) for n in range(3)
    ]
    proc = subprocess.Popen(
        command(
            str(slow), *map(str, good), "--jobs", "1", "--timeout", "120", "--max-size", "20000000"
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        busy: int | None = None
        while busy is None:
            assert time.monotonic() < deadline, "no worker got busy on the slow page"
            # the command -> the forkserver -> the pool's workers
            for worker in (w for server in children(proc.pid) for w in children(server)):
                try:
                    if cpu_seconds(worker) > 3.0:  # the warm-up and a small page take < 1 s
                        busy = worker
                except OSError:
                    continue
            time.sleep(0.1)
        os.kill(busy, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr
    got = records(stdout)
    assert [r["file"] for r in got] == [str(slow), *map(str, good)]
    assert got[0]["error"] == "extraction_crashed"
    assert all(f"Story {n} paragraph 0" in r["text"] for n, r in enumerate(got[1:]))


def test_standard_input_is_one_page_of_a_pooled_batch(tmp_path: Path) -> None:
    """``-`` is read by the command (a worker has no stdin) and extracted with the others."""
    other = save(tmp_path, "other.html", article_page("Headline 2", paragraphs(2)))
    piped = gzip.compress(article_page("Headline 1", paragraphs(1)).encode())
    done = subprocess.run(
        # after --, as any argument that starts with - (argparse would take it for an option)
        command("--jobs", "2", "--", str(other), "-=https://news.example.org/2022/05/06/piped"),
        cwd=tmp_path,
        input=piped,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    got = records(done.stdout.decode())
    assert [r["file"] for r in got] == [str(other), "<stdin>"]
    assert "Story 1 paragraph 0" in got[1]["text"] and got[1]["date"].startswith("2022-05-06")
