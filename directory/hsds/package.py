"""Reading an HSDS 3.0 package: a JSON file, or a CSV data package (a zip holding
`datapackage.json` and one CSV file per resource).

Pure: bytes in, `RawPackage` out (every resource as a list of rows, keyed by its plural
name, `services`, `organizations` …) or `PackageRefused` naming what is wrong with the
file as a whole (it is then refused whole and nothing is written). Rows are not checked
here (schema.py does, row by row).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

REASONS: set[str] = set()
"""Every reason a refusal of this package gives (English msgids, marked for translation
by the entry points that show them: casework/api/hsds.py)."""


def reason(msgid: str) -> str:
    REASONS.add(msgid)
    return msgid


RESOURCES: dict[str, str] = {
    "organization": "organizations",
    "service": "services",
    "location": "locations",
    "service_at_location": "service_at_locations",
    "contact": "contacts",
    "phone": "phones",
    "schedule": "schedules",
    "language": "languages",
    "service_area": "service_areas",
    "service_capacity": "service_capacities",
    "unit": "units",
    "attribute": "attributes",
    "taxonomy_term": "taxonomy_terms",
    "taxonomy": "taxonomies",
}
"""HSDS 3.0's resources that Casework reads, singular name → the plural it keys them by."""

PLURALS = frozenset(RESOURCES.values())

SUPPORTED_VERSION = re.compile(r"^3\.0(\.\d+)?$")
"""The HSDS versions read: 3.0 and its patch releases."""

DATAPACKAGE = "datapackage.json"
ZIP_MAGIC = b"PK\x03\x04"


class PackageRefused(ValueError):
    """The file as a whole cannot be imported: `field` names what (`file`, `version`);
    `status` is the HTTP status that fits (415: not a JSON or CSV package; 422: a
    package whose content is wrong). `reason` is an English msgid (translated where
    shown) with `values` for its placeholders."""

    def __init__(self, status: int, field: str, reason: str, **values: Any) -> None:
        self.status = status
        self.field = field
        self.reason = reason
        self.values = values
        super().__init__(f"{field}: {reason % values if values else reason}")


@dataclass(frozen=True)
class RawPackage:
    version: str
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rows(self, resource: str) -> list[dict[str, Any]]:
        return self.resources.get(resource, [])


def _plural(name: str) -> str | None:
    name = name.strip().lower()
    if name in PLURALS:
        return name
    return RESOURCES.get(name)


def _version(meta: dict[str, Any]) -> str:
    version = meta.get("hsds_version", meta.get("version"))
    if version is None:
        raise PackageRefused(422, "version", reason("required: the HSDS version, such as 3.0"))
    text = str(version).strip()
    if not SUPPORTED_VERSION.match(text):
        raise PackageRefused(
            422, "version", reason("HSDS %(version)s is not read: only 3.0.x"), version=text[:40]
        )
    return text


def read_package(data: bytes, *, max_unpacked: int) -> RawPackage:
    """The package in `data` (JSON, or a zipped CSV data package unpacking to at most
    `max_unpacked` bytes); PackageRefused if it is neither or not HSDS 3.0."""
    if data.startswith(ZIP_MAGIC):
        return _read_zip(data, max_unpacked)
    text = data.lstrip()
    if text.startswith((b"{", b"[")):
        return _read_json(data)
    raise PackageRefused(
        415,
        "file",
        reason(
            "not an HSDS package: send JSON, or a CSV data package zipped with datapackage.json"
        ),
    )


def _read_json(data: bytes) -> RawPackage:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PackageRefused(422, "file", reason("not UTF-8 text")) from None
    except json.JSONDecodeError as exc:
        raise PackageRefused(
            422, "file", reason("not valid JSON (line %(line)s)"), line=exc.lineno
        ) from None
    if not isinstance(document, dict):
        raise PackageRefused(422, "file", reason("must be one JSON object with the version"))
    version = _version(document)
    resources: dict[str, list[dict[str, Any]]] = {}
    for key, value in document.items():
        plural = _plural(key)
        if plural is None:
            continue
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise PackageRefused(422, key, reason("must be a list of objects"))
        resources[plural] = value
    if "services" not in resources:
        raise PackageRefused(422, "services", reason("required: the package lists no services"))
    return RawPackage(version, resources)


def _read_zip(data: bytes, max_unpacked: int) -> RawPackage:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        raise PackageRefused(422, "file", reason("not a readable zip file")) from None
    if sum(i.file_size for i in archive.infolist()) > max_unpacked:
        raise PackageRefused(
            413, "file", reason("unpacks to more than %(limit)s bytes"), limit=max_unpacked
        )
    found = [n for n in names if n.rsplit("/", 1)[-1] == DATAPACKAGE]
    if not found:
        raise PackageRefused(415, "file", reason("a CSV data package needs datapackage.json"))
    meta_name = min(found, key=len)
    base = meta_name[: -len(DATAPACKAGE)]
    try:
        meta = json.loads(archive.read(meta_name).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PackageRefused(422, "datapackage.json", reason("not valid JSON")) from None
    if not isinstance(meta, dict):
        raise PackageRefused(422, "datapackage.json", reason("must be one JSON object"))
    version = _version(meta)
    resources: dict[str, list[dict[str, Any]]] = {}
    for entry in meta.get("resources") or []:
        if not isinstance(entry, dict):
            continue
        plural = _plural(str(entry.get("name", "")))
        path = entry.get("path")
        if plural is None or not isinstance(path, str):
            continue
        member = base + path
        if member not in names:
            raise PackageRefused(
                422,
                "datapackage.json",
                reason("names %(path)s, which is not in the zip"),
                path=path,
            )
        try:
            text = archive.read(member).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PackageRefused(422, path, reason("not UTF-8 text")) from None
        resources[plural] = [
            {k: v for k, v in row.items() if k is not None and v not in ("", None)}
            for row in csv.DictReader(io.StringIO(text, newline=""))
        ]
    if "services" not in resources:
        raise PackageRefused(422, "services", reason("required: the package lists no services"))
    return RawPackage(version, resources)


def zip_directory(files: dict[str, bytes]) -> bytes:
    """A CSV data package (file name → bytes) as one zip, for upload."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            archive.writestr(name, content)
    return buffer.getvalue()
