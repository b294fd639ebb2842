"""CPU per item of each format's codec: what a line costs to write and to read.

    .venv/bin/python bench/formats_bench.py [--items 20000] [--repeat 5]

Items are typical table rows (a key, strings, numbers, a set, a map, binary); every
format encodes the same items and reads its own lines back. Prints the median of
``--repeat`` runs in microseconds per item. CSV has no writer in ddbpipe: its rows are
written with the standard library and only read here.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import statistics
import time
from collections.abc import Callable
from typing import Any

from ddbpipe.formats import datapipeline, ddbjson, ion
from ddbpipe.formats.csv import CsvOptions, CsvRowDecoder, iter_records


def typical_item(n: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"customer#{n:08d}"},
        "sk": {"S": f"order#{n % 97:04d}"},
        "name": {"S": f"Customer number {n}, café"},
        "total": {"N": f"{n * 37 % 100000}.{n % 100:02d}"},
        "count": {"N": str(n % 1000)},
        "active": {"BOOL": n % 2 == 0},
        "tags": {"SS": ["blue", "green", f"t{n % 7}"]},
        "address": {"M": {"city": {"S": "Lisbon"}, "zip": {"S": f"{n % 9999:04d}"}}},
        "blob": {"B": base64.b64encode(n.to_bytes(8, "big")).decode()},
    }


def _time(run: Callable[[], object], items: int, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        samples.append((time.process_time() - started) / items * 1e6)
    return statistics.median(samples)


def _mapping(function: Callable[[Any], object], values: list[Any]) -> Callable[[], object]:
    return lambda: [function(value) for value in values]


def _csv_rows(items: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["pk", "sk", "name", "total", "count"])
    for item in items:
        writer.writerow(
            [item[c][next(iter(item[c]))] for c in ("pk", "sk", "name", "total")]
            + [item["count"]["N"]]
        )
    return out.getvalue().encode()


def _read_csv(data: bytes) -> int:
    decoder = CsvRowDecoder(CsvOptions(), {"pk": "S", "sk": "S"}, ("pk", "sk"), source="bench")
    count = 0
    for number, record in iter_records([data], source="bench"):
        if decoder.needs_header:
            decoder.read_header(record, number)
        else:
            decoder.decode(record, number)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    items = [typical_item(n) for n in range(args.items)]
    codecs: dict[str, tuple[Callable[[dict[str, Any]], bytes], Callable[[bytes], object]]] = {
        "datapipeline": (datapipeline.encode_item, datapipeline.decode_line),
        "dynamodb-json": (ddbjson.encode_item, ddbjson.decode_line),
        "ion": (ion.encode_item, ion.decode_line),
    }
    print(f"{'format':<14} {'write µs/item':>14} {'read µs/item':>13}")
    for name, (encode, decode) in codecs.items():
        lines = [encode(item)[:-1] for item in items]
        write = _time(_mapping(encode, items), args.items, args.repeat)
        read = _time(_mapping(decode, lines), args.items, args.repeat)
        print(f"{name:<14} {write:>14.2f} {read:>13.2f}")
    # Reference: amazon-ion's parse alone (no conversion, no checks), the slow path's floor.
    import amazon.ion.simpleion as simpleion

    ion_lines = [ion.encode_item(item)[:-1] for item in items]
    read = _time(_mapping(simpleion.loads, ion_lines), args.items, args.repeat)
    print(f"{'amazon-ion':<14} {'-':>14} {read:>13.2f}  (its parse alone, for reference)")
    rows = _csv_rows(items)
    read = _time(lambda: _read_csv(rows), args.items, args.repeat)
    print(f"{'csv (5 cols)':<14} {'-':>14} {read:>13.2f}")


if __name__ == "__main__":
    main()
