"""One convert task: every item of one data file of a backup, written in another format.

Runs in a worker process, inline, or on a Dask worker. Items are read a page at a time
and written into data files of the output folder, which roll over every
``max_items_per_file`` items and never span two source files. As each output file is
complete, a ``ConvertedPart`` event reports it with the source line of its last item:
an attempt run after a lost one goes on from that line (``ConvertTask.after``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ddbpipe.backups.parts import Part, PartSink
from ddbpipe.backups.reader import BackupFile, FileReader, RecordFormat
from ddbpipe.formats.lines import LineStats
from ddbpipe.items import Item
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.worker import WorkerContext

__all__ = ["ConvertFileResult", "ConvertTask", "ConvertedPart", "ItemsConverted", "convert_file"]

_PAGE_ITEMS = 1000


@dataclass(frozen=True)
class ConvertTask:
    """Write the items of ``file`` (of the backup at ``folder_url``) after line
    ``start_line`` into the folder at ``out_url``, in ``to_format``."""

    file: BackupFile
    format: RecordFormat
    folder_url: str
    source_store: StoreConfig
    out_url: str
    store: StoreConfig
    to_format: str
    max_items_per_file: int
    start_line: int = 0
    earlier_parts: tuple[Part, ...] = ()

    @property
    def url(self) -> str:
        """The source file's URL."""
        return self.file.url

    @property
    def label(self) -> str:
        """The task in messages."""
        return f"the conversion of {self.url}"

    def after(self, event: object) -> ConvertTask:
        """The task that goes on after ``event``, which an earlier attempt emitted: past
        the output file it finished."""
        if isinstance(event, ConvertedPart) and event.url == self.url:
            return replace(
                self, start_line=event.line, earlier_parts=(*self.earlier_parts, event.part)
            )
        return self


@dataclass(frozen=True)
class ItemsConverted:
    """Progress: ``items`` more items of ``url`` were written, from ``bytes`` read."""

    url: str
    items: int
    bytes: int


@dataclass(frozen=True)
class ConvertedPart:
    """An output data file is complete: it holds the items of ``url`` up to ``line``
    that earlier files do not."""

    url: str
    part: Part
    line: int


@dataclass(frozen=True)
class ConvertFileResult:
    """A source file converted to its end: ``items`` read, and the output files that
    hold them (those of earlier attempts first)."""

    url: str
    items: int
    parts: tuple[Part, ...]


def convert_file(task: ConvertTask, context: WorkerContext) -> ConvertFileResult:
    """Write every item of the task's file after its start line; see the module doc."""
    source = context.store(task.folder_url, task.source_store)
    stats = LineStats()
    reader = FileReader(source, task.file, task.format, stats)
    sink = PartSink(
        context.store(task.out_url, task.store),
        format=task.to_format,
        max_items=task.max_items_per_file,
    )
    earlier = sum(p.items for p in task.earlier_parts)
    read = reported = 0
    page: list[Item] = []
    room = task.max_items_per_file
    try:
        with context.gc_paused():
            for number, record in reader:
                if number <= task.start_line:
                    continue
                page.append(reader.item(record, number))
                if len(page) >= min(_PAGE_ITEMS, room):
                    room = _write(task, context, sink, page, number, room)
                    read += len(page)
                    context.emit(ItemsConverted(task.url, len(page), stats.bytes - reported))
                    reported = stats.bytes
                    page = []
                    context.check()
            if page:
                room = _write(task, context, sink, page, number, room)
                read += len(page)
            sink.close()
            if sink.parts and room < task.max_items_per_file:
                context.emit(ConvertedPart(task.url, sink.parts[-1], number))
            context.emit(ItemsConverted(task.url, len(page), stats.bytes - reported))
    except BaseException as exc:
        sink.abort(exc)
        raise
    return ConvertFileResult(task.url, earlier + read, (*task.earlier_parts, *sink.parts))


def _write(
    task: ConvertTask,
    context: WorkerContext,
    sink: PartSink,
    page: list[Item],
    line: int,
    room: int,
) -> int:
    """Write one page (never more than the current file has room for), report the file
    it completes, and return the room in the file now being written."""
    sink.write(page)
    room -= len(page)
    if room == 0:
        context.emit(ConvertedPart(task.url, sink.parts[-1], line))
        room = task.max_items_per_file
    return room
