"""``newscrawl extract`` on many pages: which URL goes with which file (``FILE=URL`` arguments,
a JSON Lines manifest), and the pages' extraction in worker processes, each within a time
limit, printed in input order as they come.

The parsing functions are pure; ``extract_record`` is what runs for one page, in a worker
process or, for a single page, in this one."""

from __future__ import annotations

import contextlib
import json
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from crawler.cli.common import UsageError
from crawler.registry import ExtractionHints
from storage.content import ArticleContent

#: ``FILE=URL``: the first ``=`` followed by ``http://`` or ``https://`` (a file name may hold
#: ``=`` itself; a URL always starts with its scheme).
_PAIR = re.compile(r"=(?=https?://)", re.IGNORECASE)
_URL = re.compile(r"https?://\S", re.IGNORECASE)
#: What a manifest line may say.
MANIFEST_KEYS = ("file", "url", "outlet")
#: Pages scheduled but not yet printed, per worker: enough to keep every worker busy while the
#: page at the head of the line is slow, few enough that 100,000 files cost no more memory
#: than a few dozen pages.
IN_FLIGHT_PER_JOB = 4


@dataclass(frozen=True)
class PageTask:
    """One page to extract: its file (``-`` is standard input), the URL it was served from,
    the outlet whose hints apply, and the manifest line it came from (0: the command line)."""

    file: str
    url: str | None = None
    outlet: str | None = None
    line: int = 0


def split_file_url(arg: str) -> PageTask:
    """``FILE`` or ``FILE=URL``, split on the first ``=`` that a ``http://`` or ``https://``
    follows: ``a=b.html`` is a file, ``a=b.html=https://x/`` is that file and a URL."""
    match = _PAIR.search(arg)
    if match is None:
        return PageTask(arg)
    name, url = arg[: match.start()], arg[match.end() :]
    if not name:
        raise UsageError("FILE=URL", f"no file before the URL in {arg!r}")
    return PageTask(name, url)


def tasks_from_arguments(files: Sequence[str], url: str | None) -> list[PageTask]:
    """The command line's pages; ``--url`` names the page of a single bare ``FILE``."""
    tasks = [split_file_url(arg) for arg in files]
    if url is not None:
        if len(tasks) != 1:
            raise UsageError("--url", "names one page; give one FILE with it (or FILE=URL pairs)")
        if tasks[0].url is not None:
            raise UsageError("--url", f"{files[0]!r} already names its URL")
        tasks = [PageTask(tasks[0].file, url)]
    return tasks


def _manifest_line(n: int, raw: bytes) -> PageTask | None:
    def bad(problem: str) -> UsageError:
        return UsageError("--manifest", f"line {n}: {problem}")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("not UTF-8") from None
    if not text.strip():
        return None
    try:
        entry = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"not JSON ({exc.msg})") from None
    if not isinstance(entry, dict):
        raise bad('expected an object like {"file": "page.html", "url": "https://..."}')
    unknown = sorted(set(entry) - set(MANIFEST_KEYS))
    if unknown:
        raise bad(f"unknown key {unknown[0]!r} (a line has {', '.join(MANIFEST_KEYS)})")
    file, url, outlet = (entry.get(key) for key in MANIFEST_KEYS)
    if not isinstance(file, str) or not file:
        raise bad('no "file" (the saved page\'s path)')
    if url is not None and not (isinstance(url, str) and _URL.match(url)):
        raise bad(f'"url" must start with http:// or https://, not {url!r}')
    if outlet is not None and not (isinstance(outlet, str) and outlet):
        raise bad(f'"outlet" must be an outlet id, not {outlet!r}')
    return PageTask(file, url, outlet, n)


def read_manifest(lines: Iterable[bytes]) -> list[PageTask]:
    """The pages of a JSON Lines manifest, one ``{"file": ..., "url": ..., "outlet": ...}`` a
    line (``url`` and ``outlet`` optional; blank lines skipped). All of it is checked before
    any page is extracted: a bad line is a UsageError that names its number."""
    tasks = []
    for n, raw in enumerate(lines, 1):
        task = _manifest_line(n, raw)
        if task is not None:
            tasks.append(task)
    return tasks


def check_stdin_once(tasks: Sequence[PageTask], manifest_on_stdin: bool) -> None:
    """Standard input can be read once: by the manifest or by one page."""
    on_stdin = [t for t in tasks if t.file == "-"]
    where = f"manifest line {on_stdin[0].line}" if on_stdin and on_stdin[0].line else "FILE -"
    if on_stdin and manifest_on_stdin:
        raise UsageError("--manifest", f"- reads the manifest from stdin; {where} cannot too")
    if len(on_stdin) > 1:
        raise UsageError("FILE", "- (standard input) can be given once")


def default_jobs(pages: int, cores: int | None) -> int:
    """One process for one page; else one worker per core."""
    return 1 if pages <= 1 else max(1, cores or 1)


# --- one page ----------------------------------------------------------------------------------


def _label(task: PageTask) -> dict[str, Any]:
    record: dict[str, Any] = {"file": "<stdin>" if task.file == "-" else task.file}
    record["url"] = task.url
    if task.outlet:
        record["outlet"] = task.outlet
    return record


def error_record(task: PageTask, reason: str, detail: str) -> dict[str, Any]:
    return {**_label(task), "error": reason, "detail": detail}


def extract_record(
    task: PageTask,
    hints: ExtractionHints,
    language: str,
    limit: int,
    data: bytes | None = None,
) -> dict[str, Any]:
    """The crawl's extraction of one saved page as ``newscrawl extract`` prints it: metadata and
    text, or ``error`` and ``detail``. ``data``: the page's bytes when the caller read them
    (standard input is the command's, not a worker's)."""
    from crawler.decoding import Undecodable, decode_html
    from pipelines.extract.page import ExtractionFailed, extract_page, reconcile
    from pipelines.extract.saved import PageTooLarge, read_saved_page

    record = _label(task)
    try:
        if data is None:
            record["file"], data = read_saved_page(task.file, limit)
        html, encoding, _evidence = decode_html(data, None)  # a saved file has no header
        record["encoding"] = encoding
        page = extract_page(
            html,
            task.url or "",
            drop_selectors=hints.drop_selectors,
            drop_line_patterns=hints.drop_line_patterns,
            keep_selectors=hints.keep_selectors,
        )
    except (OSError, EOFError, zlib.error, ExtractionFailed, Undecodable, PageTooLarge) as exc:
        record["error"] = getattr(exc, "reason", "unreadable")
        record["detail"] = getattr(exc, "detail", "") or str(exc)
        return record
    record.update(content_fields(reconcile(page, None, language)))
    return record


def content_fields(content: ArticleContent) -> dict[str, Any]:
    """An extracted article's fields as ``extract`` and ``fetch`` print them, with how sure
    extraction is of its text and why."""
    return {
        "title": content.title,
        "author": content.author,
        "date": content.published_at.isoformat() if content.published_at else None,
        "modified": content.modified_at.isoformat() if content.modified_at else None,
        "language": content.language or None,
        "language_confidence": content.language_confidence,
        "language_source": content.language_source,
        "description": content.description,
        "text": content.text,
        "confidence": content.extraction_confidence,
        "evidence": content.extraction_evidence,
    }


# --- many pages --------------------------------------------------------------------------------

#: The outlet hints and language of a task: the caller resolves outlet ids to them.
Hints = Callable[[PageTask], tuple[ExtractionHints, str]]

#: A page whose pool broke under it this many times counts as having crashed it (as the crawl's
#: ``crawler.runtime.POOL_ATTEMPTS``).
POOL_ATTEMPTS = 2
_WARM_UP_PAGE = f"<html><body><article><p>{'warm up ' * 40}</p></article></body></html>"


def _stdin_page(task: PageTask, limit: int) -> tuple[dict[str, Any] | None, bytes | None]:
    """Standard input's page, read here (a worker has no stdin): (error record, None) or
    (None, its bytes)."""
    from pipelines.extract.saved import PageTooLarge, read_saved_page

    try:
        return None, read_saved_page("-", limit)[1]
    except (OSError, EOFError, zlib.error, PageTooLarge) as exc:
        reason = getattr(exc, "reason", "unreadable")
        return error_record(task, reason, str(exc)), None


def extract_here(task: PageTask, hints: Hints, limit: int) -> dict[str, Any]:
    """One page in this process (no time limit: there is no other page to protect)."""
    failed, data = _stdin_page(task, limit) if task.file == "-" else (None, None)
    if failed:
        return failed
    try:
        return extract_record(task, *hints(task), limit, data)
    except Exception as exc:  # a parser bug on a hostile page: its record says so
        return error_record(task, "extraction_error", f"{type(exc).__name__}: {exc}")


def warm_up_worker() -> None:
    """Run the extractor once in each new worker, so that a page's time limit measures its
    own work, not trafilatura's first-call set-up."""
    from pipelines.extract.page import ExtractionFailed, extract_page

    with contextlib.suppress(ExtractionFailed):
        extract_page(_WARM_UP_PAGE, "http://localhost/")


class _Pool:
    """pebble worker processes, as the crawl's (``crawler.runtime``: forkserver, recycled
    workers, a time limit per task that kills its worker) but without the crawl's database and
    dedup modules, a second or more of start-up in the command and each worker. A pool that
    breaks (a worker dead while idle) is replaced, and the pages it held run again."""

    def __init__(self, jobs: int, timeout: float) -> None:
        self.jobs, self.timeout = jobs, timeout
        self.pool = self._start()

    def _start(self) -> Any:
        import multiprocessing

        from pebble import ProcessPool

        context = multiprocessing.get_context("forkserver")
        # The workers fork from a server that has the extractor imported: each starts in a
        # fraction of a second rather than importing it again (no effect once a server runs).
        context.set_forkserver_preload(["crawler.cli.extract_batch", "pipelines.extract.page"])
        return ProcessPool(
            max_workers=self.jobs,
            max_tasks=5000,  # recycle workers so a leak in a parser cannot grow forever
            context=context,
            initializer=warm_up_worker,
        )

    def _renew(self, broken: Any) -> None:
        if broken is self.pool:
            with contextlib.suppress(Exception):
                broken.stop()
            self.pool = self._start()

    def schedule(self, args: tuple[Any, ...]) -> tuple[Any, Any]:
        """(the pool, the future of ``extract_record(*args)``)."""
        pool = self.pool
        try:
            return pool, pool.schedule(extract_record, args=args, timeout=self.timeout)
        except RuntimeError:  # broke since the last page: "Unexpected error within the Pool"
            self._renew(pool)
            return self.pool, self.pool.schedule(extract_record, args=args, timeout=self.timeout)

    def result(
        self, task: PageTask, args: tuple[Any, ...], pool: Any, future: Any
    ) -> dict[str, Any]:
        from concurrent.futures import TimeoutError as FutureTimeout
        from concurrent.futures.process import BrokenProcessPool

        from pebble import ProcessExpired

        for attempt in range(1, POOL_ATTEMPTS + 1):
            try:
                record: dict[str, Any] = future.result()
                return record
            except FutureTimeout:
                return error_record(task, "extraction_timeout", f"over {self.timeout:g} s")
            except ProcessExpired as exc:
                detail = f"worker died: {exc} (exit code {exc.exitcode})"
                return error_record(task, "extraction_crashed", detail)
            except BrokenProcessPool as exc:
                if attempt == POOL_ATTEMPTS:
                    detail = f"pool broken under the page {attempt} times: {exc}"
                    return error_record(task, "extraction_crashed", detail)
                self._renew(pool)
                pool, future = self.schedule(args)
            except Exception as exc:  # as the crawl's pipeline: one bad page must not stop the rest
                return error_record(task, "extraction_error", f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")

    def close(self, wait: bool) -> None:
        if wait:
            self.pool.close()
            self.pool.join()
        else:  # interrupted, or the reader went away: do not wait for the pages in flight
            self.pool.stop()
            self.pool.join(timeout=2)


def extract_in_pool(
    tasks: Iterable[PageTask],
    emit: Callable[[dict[str, Any]], None],
    *,
    jobs: int,
    hints: Hints,
    limit: int,
    timeout: float,
) -> None:
    """Every page in ``jobs`` worker processes (a page over ``timeout`` seconds, or whose
    worker dies, costs that page only), ``emit`` called with each record in the order of
    ``tasks``, at most ``IN_FLIGHT_PER_JOB * jobs`` pages in flight."""
    pool = _Pool(jobs, timeout)
    # per page: the task, its arguments (to run it again), and its pool and future, or its record
    pending: deque[tuple[PageTask, tuple[Any, ...], Any, Any]] = deque()

    def flush_one() -> None:
        task, args, owner, future = pending.popleft()
        emit(future if isinstance(future, dict) else pool.result(task, args, owner, future))

    finished = False
    try:
        for task in tasks:
            failed, data = _stdin_page(task, limit) if task.file == "-" else (None, None)
            args = (task, *hints(task), limit, data)
            if failed:
                pending.append((task, args, None, failed))
            else:
                pending.append((task, args, *pool.schedule(args)))
            if len(pending) >= IN_FLIGHT_PER_JOB * jobs:
                flush_one()
        while pending:
            flush_one()
        finished = True
    finally:
        pool.close(wait=finished)
